"""The governance notifier: a file outbox by default, a real webhook on 127.0.0.1, retries, and nothing lost."""

from __future__ import annotations

import json
import os

import pytest

from meshwork.governance import channels, notify
from meshwork.governance.notify import Notice
from tests.unit.governance.receivers import Receiver


@pytest.fixture(autouse=True)
def no_channels(monkeypatch):
    """Only the channels a test sets: none from the developer's environment."""
    for var in ("MESH_NOTIFY_WEBHOOK", "MESH_NOTIFY_SLACK", "MESH_NOTIFY_SMTP"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(channels, "BACKOFF", 0.05)  # retries still happen, without the production pauses


@pytest.fixture
def notices() -> list[Notice]:
    return [
        Notice("sales-team", "policy", "sales/orders", "error", "documentation: no description", contact="sales@x.org"),
        Notice("finance-team", "sla", "finance/daily_revenue", "error", "finance/daily_revenue@v1 is 30.0h old"),
    ]


def test_without_a_webhook_notices_go_to_the_file_outbox(notices, monkeypatch):
    monkeypatch.delenv("MESH_NOTIFY_WEBHOOK", raising=False)
    delivery = notify.deliver(notices)
    assert (delivery.delivered, delivery.queued) == (0, 2)
    kept = notify.outbox()
    assert [(n["team"], n["subject"]) for n in kept] == [
        ("sales-team", "sales/orders"),
        ("finance-team", "finance/daily_revenue"),
    ]
    assert all(n["channel"] == "outbox" and "undelivered" not in n for n in kept)
    assert kept[0]["contact"] == "sales@x.org"


def test_a_webhook_receives_every_notice_as_json(notices, monkeypatch):
    with Receiver() as receiver:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", receiver.url)
        delivery = notify.deliver(notices)
    assert delivery.delivered == 2 and delivery.error is None
    assert [n["message"] for n in receiver.bodies[0]["notices"]] == [n.message for n in notices]
    assert receiver.bodies[0]["notices"][0]["contact"] == "sales@x.org"  # the team's address travels with it
    # What the webhook accepted is journaled too: `mesh notices list` shows what each team was told.
    journal = notify.outbox()
    assert [(n["subject"], n["channel"], n.get("delivered"), n["attempts"]) for n in journal] == [
        ("sales/orders", "webhook", True, 1),
        ("finance/daily_revenue", "webhook", True, 1),
    ]
    host = receiver.url.rsplit("/", 1)[0]
    assert {n["to"] for n in journal} == {host}  # where it went, without the webhook's path (a secret on Slack)
    assert notify.outbox_notices(undelivered=True) == []


def test_a_webhook_that_is_down_loses_nothing_and_redelivery_sends_it_later(notices, monkeypatch):
    receiver = Receiver()
    url = receiver.url
    receiver.server.server_close()  # the port is now refused
    monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", url)
    delivery = notify.deliver(notices)
    assert delivery.delivered == 0 and delivery.queued == 2 and "refused" in (delivery.error or "").lower()
    reason = (delivery.error or "").removeprefix("webhook: ")
    assert [n["undelivered"] for n in notify.outbox()] == [reason] * 2
    # Tried once and retried RETRIES times before the outbox kept it.
    assert [n["attempts"] for n in notify.outbox()] == [1 + channels.RETRIES] * 2
    # Still down: the notices stay queued.
    assert notify.redeliver().queued == 2
    with Receiver() as back:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", back.url)
        assert notify.redeliver().delivered == 2
        assert notify.redeliver().delivered == 0  # sent once, not twice
    assert [n["subject"] for n in back.bodies[0]["notices"]] == ["sales/orders", "finance/daily_revenue"]
    assert all(n.get("redelivered") and "undelivered" not in n for n in notify.outbox())


def test_a_slow_webhook_costs_at_most_the_timeout_and_the_notice_is_kept(notices, monkeypatch):
    monkeypatch.setenv("MESH_NOTIFY_TIMEOUT", "0.5")
    with Receiver(delay=3) as receiver:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", receiver.url)
        delivery = notify.deliver(notices)
    # The delivery gave up at the timeout (the receiver answers after 3 s) and kept both notices; how
    # long that took on this machine is a benchmark's business, not a test's.
    assert delivery.queued == 2 and delivery.delivered == 0 and "timed out" in (delivery.error or "")
    assert [n["undelivered"] for n in notify.outbox()] == [(delivery.error or "").removeprefix("webhook: ")] * 2


def test_a_webhook_that_refuses_once_gets_the_notices_on_the_retry(notices, monkeypatch):
    with Receiver(fail_first=1) as receiver:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", receiver.url)
        delivery = notify.deliver(notices)
    assert (delivery.delivered, delivery.queued, delivery.error) == (2, 0, None)
    assert receiver.refused == 1 and len(receiver.bodies) == 1
    assert [(n["delivered"], n["attempts"]) for n in notify.outbox()] == [(True, 2)] * 2


def test_a_webhook_that_refuses_every_retry_is_kept_with_the_http_status(notices, monkeypatch):
    with Receiver(fail_first=99) as receiver:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", receiver.url)
        delivery = notify.deliver(notices)
    assert receiver.refused == 1 + channels.RETRIES and delivery.queued == 2
    assert "503" in (delivery.error or "")


def test_the_cli_lists_notices_by_team_and_redelivers(notices, monkeypatch):
    from tests.conftest import mesh_cli

    receiver = Receiver()
    down = receiver.url
    receiver.server.server_close()
    monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", down)
    notify.deliver(notices)

    listed = mesh_cli("notices", "list", "--team", "sales-team", "--undelivered", "--json", env=dict(os.environ))
    assert listed.returncode == 0 and [n["subject"] for n in json.loads(listed.stdout)] == ["sales/orders"]
    assert mesh_cli("notices", "redeliver", env=dict(os.environ)).returncode == 1  # still down
    with Receiver() as back:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", back.url)
        result = mesh_cli("notices", "redeliver", "--json", env=dict(os.environ))
    assert result.returncode == 0 and json.loads(result.stdout)["delivered"] == 2
