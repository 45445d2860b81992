"""The domain run as OpenLineage's parent job: one START, one end event, valid, whoever sees the run end."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from openlineage.client.serde import Serde

from meshwork.core import settings
from meshwork.lineage import delivery
from meshwork.lineage.parent_events import parent_event
from meshwork.runtime import instance as meshwork_instance
from meshwork.runtime import parent_lineage
from tests.lineage_support import read_events, schema_errors


@pytest.fixture
def instance(mesh_home: Path):
    meshwork_instance.ensure_local_instance()  # Meshwork's instance config (telemetry off)
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as inst:
        yield inst


@dg.asset
def fine() -> int:
    return 1


@dg.asset
def broken() -> int:
    raise RuntimeError("broken on purpose")


def finished_run(instance: dg.DagsterInstance, asset: dg.AssetsDefinition) -> str:
    result = dg.materialize([asset], instance=instance, raise_on_error=False)
    return result.run_id


@pytest.fixture(autouse=True)
def default_delivery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The default file transport, whatever earlier tests configured (clients and back-off are per process)."""
    for name in list(settings.openlineage_environment()):
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    delivery.reset()
    yield
    delivery.reset()


def events() -> list[dict]:
    sent = settings.lineage_events_file()
    return read_events(sent) if sent.exists() else []


def parents() -> list[tuple[str, str, str]]:
    return [
        (e["eventType"], e["job"]["name"], e["run"]["runId"])
        for e in events()
        if not e["job"].get("facets", {}).get("meshwork")
    ]


@pytest.mark.parametrize("state", ["START", "COMPLETE", "FAIL", "ABORT"])
def test_every_parent_event_is_valid_openlineage(state: str):
    event = parent_event(state, "sales", "sales_build", "0d7c1f3e-1111-4222-8333-444455556666", error="boom")
    assert schema_errors(json.loads(Serde.to_json(event))) == []


def test_steps_starting_at_once_send_one_start(instance):
    run_id = finished_run(instance, fine)
    threads = [
        threading.Thread(target=parent_lineage.run_started, args=(run_id, "sales", "sales_build", "b1"))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert parents() == [("START", "sales_build", run_id)]
    [start] = events()
    assert start["job"]["namespace"] == "meshwork.sales"


def test_the_end_is_sent_once_with_the_runs_outcome_and_end_time(instance):
    ok, failed = finished_run(instance, fine), finished_run(instance, broken)
    for run_id in (ok, failed):
        parent_lineage.run_started(run_id, "sales", "sales_build", "b1")
    assert parent_lineage.run_ended(instance, ok) and parent_lineage.run_ended(instance, failed)
    assert not parent_lineage.run_ended(instance, ok)  # once only
    ends = {run_id: state for state, _, run_id in parents() if state != "START"}
    assert ends == {ok: "COMPLETE", failed: "FAIL"}
    [fail] = [e for e in events() if e["eventType"] == "FAIL"]
    assert "FAILURE" in fail["run"]["facets"]["errorMessage"]["message"]
    record = instance.get_run_record_by_id(failed)
    assert datetime.fromisoformat(fail["eventTime"]) == datetime.fromtimestamp(record.end_time, UTC)


def test_a_run_without_start_gets_no_end(instance):
    run_id = finished_run(instance, fine)
    assert not parent_lineage.run_ended(instance, run_id)
    assert parents() == []


def test_mesh_build_ends_only_its_own_runs(instance):
    mine, other = finished_run(instance, fine), finished_run(instance, fine)
    parent_lineage.run_started(mine, "sales", "sales_build", "build-mine")
    parent_lineage.run_started(other, "sales", "sales_build", "build-other")
    parent_lineage.end_build_runs("build-mine")
    assert [(s, r) for s, _, r in parents() if s != "START"] == [("COMPLETE", mine)]


def test_the_daemon_sensor_ends_runs_finished_since_its_last_tick(instance):
    run_id = finished_run(instance, broken)
    parent_lineage.run_started(run_id, "support", "__ASSET_JOB", None)
    sensor = parent_lineage.run_lineage_sensor()
    context = dg.build_sensor_context(instance=instance)
    sensor(context)
    assert [(s, j, r) for s, j, r in parents() if s != "START"] == [("FAIL", "__ASSET_JOB", run_id)]
    assert context.cursor  # the next tick starts after this run
    sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
    assert len([s for s, _, _ in parents() if s != "START"]) == 1
