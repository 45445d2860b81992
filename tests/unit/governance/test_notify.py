"""The governance notifier: a file outbox by default, a real webhook on 127.0.0.1, and nothing lost."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from meshwork.governance import notify
from meshwork.governance.notify import Notice


class Receiver:
    """A real HTTP webhook receiver; ``delay`` makes it slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.bodies: list[dict] = []
        received, wait = self.bodies, delay

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                time.sleep(wait)
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


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


def test_a_webhook_receives_every_notice_as_json(notices, monkeypatch):
    with Receiver() as receiver:
        monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", receiver.url)
        delivery = notify.deliver(notices)
    assert delivery.delivered == 2 and delivery.error is None
    assert [n["message"] for n in receiver.bodies[0]["notices"]] == [n.message for n in notices]
    assert receiver.bodies[0]["notices"][0]["contact"] == "sales@x.org"  # the team's address travels with it
    # What the webhook accepted is journaled too: `mesh notices list` shows what each team was told.
    journal = notify.outbox()
    assert [(n["subject"], n["channel"], n.get("delivered")) for n in journal] == [
        ("sales/orders", "webhook", True),
        ("finance/daily_revenue", "webhook", True),
    ]
    assert notify.outbox_notices(undelivered=True) == []


def test_a_webhook_that_is_down_loses_nothing_and_redelivery_sends_it_later(notices, monkeypatch):
    receiver = Receiver()
    url = receiver.url
    receiver.server.server_close()  # the port is now refused
    monkeypatch.setenv("MESH_NOTIFY_WEBHOOK", url)
    delivery = notify.deliver(notices)
    assert delivery.delivered == 0 and delivery.queued == 2 and "refused" in (delivery.error or "").lower()
    assert [n["undelivered"] for n in notify.outbox()] == [delivery.error] * 2
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
    assert [n["undelivered"] for n in notify.outbox()] == [delivery.error] * 2


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
