"""The notice channels against real receivers on 127.0.0.1: a Slack-compatible webhook (HTTP), e-mail
through a real SMTP server (aiosmtpd), every delivery journaled, a channel that is down kept in the outbox
and redelivered later, and nothing contacted but the configured receivers."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from meshwork.governance import channels, notify
from meshwork.governance.notify import Notice
from tests.conftest import mesh_cli
from tests.unit.governance.receivers import Receiver, SmtpServer, free_port


@pytest.fixture(autouse=True)
def no_channels(monkeypatch):
    for var in ("MESH_NOTIFY_WEBHOOK", "MESH_NOTIFY_SLACK", "MESH_NOTIFY_SMTP"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(channels, "BACKOFF", 0.05)


@pytest.fixture
def notices() -> list[Notice]:
    return [
        Notice(
            "sales-data",
            "sla",
            "sales/orders",
            "error",
            "sales/orders@v1 breaches its 2m SLA <now>",
            contact="sales-data@example.com",
        ),  # fmt: skip
        Notice("support-ops", "policy", "support/tickets", "warn", "documentation: purpose too short"),
    ]


def test_the_slack_channel_posts_slacks_incoming_webhook_message(notices, monkeypatch):
    with Receiver() as slack:
        monkeypatch.setenv("MESH_NOTIFY_SLACK", slack.url.replace("/hook", "/services/T000/B000/XXXX"))
        delivery = notify.deliver(notices)
    assert (delivery.delivered, delivery.queued) == (2, 0)
    [body] = slack.bodies
    assert set(body) == {"text"} and slack.paths == ["/services/T000/B000/XXXX"]
    first, second = body["text"].splitlines()
    assert first.startswith(":red_circle: *open* sla `sales/orders`")
    assert "&lt;now&gt;" in first and "<now>" not in first  # Slack's mrkdwn escapes
    assert "<mailto:sales-data@example.com|sales-data@example.com>" in first
    assert second.startswith(":warning: *open* policy `support/tickets`") and "team support-ops" in second
    journal = notify.outbox_notices(channel="slack")
    assert [(n["subject"], n["delivered"]) for n in journal] == [("sales/orders", True), ("support/tickets", True)]
    assert all("/services/" not in n["to"] for n in journal)  # the webhook's secret path is not journaled


def test_email_goes_to_each_teams_address_through_a_real_smtp_server(notices, monkeypatch):
    with SmtpServer() as smtp:
        monkeypatch.setenv("MESH_NOTIFY_SMTP", smtp.url)
        delivery = notify.deliver(notices)
    assert (delivery.delivered, delivery.queued, delivery.error) == (1, 0, None)
    [(sender, recipients, mail)] = smtp.messages
    assert sender == "governance@meshwork.example" and recipients == ["sales-data@example.com"]
    assert mail["Subject"] == "[meshwork] open: sla sales/orders"
    assert "sales/orders@v1 breaches its 2m SLA" in mail.get_body(("plain",)).get_content()
    journal = notify.outbox_notices(channel="email")
    assert journal[0]["to"] == "sales-data@example.com" and journal[0]["delivered"] is True
    # A team without an address in its domain.yaml is not mailed, and the journal says why.
    assert journal[1]["delivered"] is False and "no e-mail address" in journal[1]["skipped"]
    assert "undelivered" not in journal[1]


def test_an_smtp_server_that_is_down_keeps_the_mail_and_redelivery_sends_it_once(notices, monkeypatch):
    port = free_port()
    monkeypatch.setenv("MESH_NOTIFY_SMTP", f"smtp://127.0.0.1:{port}?from=governance@meshwork.example")
    delivery = notify.deliver(notices)
    assert delivery.queued == 1 and "refused" in (delivery.error or "").lower()
    [pending] = notify.outbox_notices(undelivered=True)
    assert pending["channel"] == "email" and pending["attempts"] == 1 + channels.RETRIES
    assert notify.redeliver().queued == 1  # still down
    with SmtpServer(port) as smtp:
        assert notify.redeliver().delivered == 1
        assert notify.redeliver().delivered == 0  # sent once, not twice
    assert [r for _, r, _ in smtp.messages] == [["sales-data@example.com"]]
    [sent] = [n for n in notify.outbox_notices(channel="email") if n.get("to")]
    assert sent["delivered"] and sent["redelivered"] and "undelivered" not in sent


def test_every_channel_gets_every_notice_and_one_down_channel_does_not_hold_back_the_others(notices, monkeypatch):
    down = free_port()
    with Receiver() as hook, SmtpServer() as smtp:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", hook.url)
        monkeypatch.setenv("MESH_NOTIFY_SMTP", smtp.url)
        monkeypatch.setenv("MESH_NOTIFY_SLACK", f"http://127.0.0.1:{down}/services/x")
        delivery = notify.deliver(notices)
        assert delivery.delivered == 3 and delivery.queued == 2 and (delivery.error or "").startswith("slack:")
        listed = mesh_cli("notices", "list", "--team", "sales-data", "--json", env=dict(os.environ))
        text = mesh_cli("notices", "list", "--undelivered", env=dict(os.environ))
    rows = json.loads(listed.stdout)
    assert {(r["channel"], r["delivered"]) for r in rows} == {("webhook", True), ("email", True), ("slack", False)}
    assert text.returncode == 0 and "via slack to http://127.0.0.1" in text.stdout and "NOT DELIVERED" in text.stdout
    assert len(hook.bodies) == 1 and len(smtp.messages) == 1


def test_a_malformed_channel_url_is_refused_with_its_setting(notices, monkeypatch):
    monkeypatch.setenv("MESH_NOTIFY_SMTP", "imap://mail.example.org")
    with pytest.raises(ValueError, match="MESH_NOTIFY_SMTP='imap://mail.example.org'"):
        notify.deliver(notices)
    assert notify.outbox() == []  # nothing half-sent
    monkeypatch.setenv("MESH_NOTIFY_SMTP", "smtp://127.0.0.1:2525")
    monkeypatch.setenv("MESH_NOTIFY_SLACK", "hooks.slack.com/services/x")
    with pytest.raises(ValueError, match="MESH_NOTIFY_SLACK"):
        notify.deliver(notices)
    result = mesh_cli("notices", "redeliver", env=dict(os.environ))
    assert result.returncode == 2 and "MESH_NOTIFY_SLACK" in result.stderr


def test_the_channels_contact_only_their_receivers_and_write_nothing_outside_mesh_home(notices, monkeypatch, tmp_path):
    """apprise's own behaviour: no lookup or connection but the configured ones, no files of its own."""
    home = tmp_path / "user-home"
    home.mkdir()
    for var, sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                     ("XDG_DATA_HOME", ".local/share")):  # fmt: skip
        monkeypatch.setenv(var, str(home / sub))
    seen: list[str] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        seen.append(f"dns {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen.append(f"connect {address[0]}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    with Receiver() as hook, Receiver() as slack, SmtpServer() as smtp:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", hook.url)
        monkeypatch.setenv("MESH_NOTIFY_SLACK", slack.url)
        monkeypatch.setenv("MESH_NOTIFY_SMTP", smtp.url)
        assert notify.deliver(notices).delivered == 5
    assert seen and {s.split(" ", 1)[1] for s in seen} <= {"127.0.0.1"}, seen
    assert list(Path(home).rglob("*")) == []
