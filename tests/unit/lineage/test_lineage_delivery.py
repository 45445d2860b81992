"""Lineage delivery: file transport by default, a real HTTP receiver on 127.0.0.1, and nothing lost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openlineage.client.serde import Serde

from meshwork.core import settings
from meshwork.lineage import delivery, events
from meshwork.model.loader import load_mesh
from tests.lineage_support import free_port, read_events, receiver, schema_errors


@pytest.fixture(autouse=True)
def fresh_delivery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    # No openlineage.yml of the developer's may leak in, and the client cache starts empty.
    for name in [k for k in settings.openlineage_environment()]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MESH_LINEAGE_TIMEOUT", "0.5")
    delivery.reset()
    yield
    delivery.reset()


@pytest.fixture(scope="module")
def make_event() -> Callable[[str], object]:
    mesh = load_mesh()
    product = mesh.products["marketing/customer_360"]

    def make(run: str = "7d1f0b2c-0000-4000-8000-000000000001"):
        return events.start_event(mesh, product, events.RunInfo(run, "__ASSET_JOB", "dbt"))

    return make


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_without_configuration_events_are_appended_to_the_file_under_mesh_home(make_event, mesh_home: Path):
    first, second = make_event(), make_event("7d1f0b2c-0000-4000-8000-000000000002")
    assert delivery.emit(first).delivered and delivery.emit(second).delivered
    written = read_events(mesh_home / "lineage/events.jsonl")
    assert [e["run"]["runId"] for e in written] == [first.run.runId, second.run.runId]
    assert all(schema_errors(e) == [] for e in written)
    assert delivery.outbox() == []


def test_events_arrive_at_a_real_http_backend_and_validate(make_event, monkeypatch, mesh_home: Path):
    with receiver() as backend:
        monkeypatch.setenv("OPENLINEAGE_URL", backend.url)
        outcome = delivery.emit(make_event())
        assert outcome.delivered, outcome.reason
        assert len(backend.events) == 1 and schema_errors(backend.events[0]) == []
    assert not (mesh_home / "lineage/events.jsonl").exists()  # the configured transport replaces the file


def test_the_standard_openlineage_yml_is_honoured(make_event, monkeypatch, tmp_path: Path):
    with receiver() as backend:
        config = tmp_path / "ol.yml"
        config.write_text(f"transport:\n  type: http\n  url: {backend.url}\n  timeout: 1\n")
        monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
        assert delivery.emit(make_event()).delivered
        assert len(backend.events) == 1


def test_a_refused_backend_queues_the_event_and_replay_delivers_it_once_the_backend_is_up(make_event, monkeypatch):
    port = free_port()
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{port}")
    first, second = make_event(), make_event("7d1f0b2c-0000-4000-8000-000000000002")
    outcome = delivery.emit(first)
    assert not outcome.delivered and outcome.queued
    # The next event does not wait for the backend again: it goes straight to the outbox.
    assert "earlier failure" in (delivery.emit(second).reason or "")
    queued = delivery.outbox()
    assert [r["event"]["run"]["runId"] for r in queued] == [first.run.runId, second.run.runId]
    assert queued[0]["event"] == json.loads(Serde.to_json(first))

    still_down = delivery.replay()
    assert (still_down.delivered, still_down.remaining) == (0, 2) and still_down.errors
    assert [r["id"] for r in delivery.outbox()] == [r["id"] for r in queued]

    with receiver(port=port) as backend:
        replayed = delivery.replay()
        assert (replayed.delivered, replayed.remaining) == (2, 0)
        assert [e["run"]["runId"] for e in backend.events] == [first.run.runId, second.run.runId]
        assert all(schema_errors(e) == [] for e in backend.events)
    assert delivery.outbox() == []
    assert delivery.replay().delivered == 0  # nothing is sent twice


def test_a_slow_backend_costs_the_timeout_then_a_late_answer_removes_the_outbox_copy(make_event, monkeypatch):
    with receiver(delay=1.5) as backend:
        monkeypatch.setenv("OPENLINEAGE_URL", backend.url)
        event = make_event()
        outcome = delivery.emit(event)
        assert not outcome.delivered and "no answer within 0.5s" in (outcome.reason or "")
        assert [r["event"]["run"]["runId"] for r in delivery.outbox()] == [event.run.runId]
        # The backend took it after all: the copy would be a duplicate, and is removed.
        assert wait_for(lambda: len(backend.events) == 1 and delivery.outbox() == [])


def test_a_broken_configuration_never_raises_and_keeps_the_event(make_event, monkeypatch, tmp_path: Path):
    config = tmp_path / "openlineage.yml"
    config.write_text("transport:\n  type: no-such-transport\n")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    outcome = delivery.emit(make_event())
    assert not outcome.delivered and outcome.queued
    assert len(delivery.outbox()) == 1
