"""The domain run as an OpenLineage parent job: its START and its end, whoever launched the run.

START comes from inside the run: the first product step to begin emits it (a marker created with
``O_EXCL`` makes it one per run however many steps start at once). The end needs someone who sees
the run finish: ``mesh build`` for its own runs (no daemon needed), and the daemon's
``meshwork_run_lineage`` sensor for runs launched from the UI, schedules and sensors. Markers under
``$MESH_HOME/lineage/runs/`` keep each event single when both see the same run. A run launched with
neither (``dagster asset materialize`` in CI without a daemon) gets START only; its product runs
still carry their own START and COMPLETE/FAIL.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from meshwork.core import settings
from meshwork.lineage import delivery
from meshwork.lineage.parent_events import parent_event

SENSOR = "meshwork_run_lineage"
log = logging.getLogger("meshwork.lineage.events")
_END = {
    dg.DagsterRunStatus.SUCCESS: "COMPLETE",
    dg.DagsterRunStatus.FAILURE: "FAIL",
    dg.DagsterRunStatus.CANCELED: "ABORT",
}


def _marker(run_id: str, what: str) -> Path:
    return settings.lineage_dir() / "runs" / f"{run_id}.{what}"


def _claim(run_id: str, what: str, content: str = "") -> bool:
    """True for exactly one caller per run and ``what``."""
    path = _marker(run_id, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    return True


def run_started(run_id: str, domain: str, job_name: str, build_id: str | None = None) -> None:
    """START of the domain run, once; called by each product step as it begins."""
    if _claim(run_id, "start", json.dumps({"domain": domain, "job": job_name, "build": build_id})):
        delivery.emit(parent_event("START", domain, job_name, run_id), log)


def run_ended(instance: dg.DagsterInstance, run_id: str) -> bool:
    """COMPLETE / FAIL / ABORT of a finished run whose START was sent; False if there is nothing to send."""
    record = instance.get_run_record_by_id(run_id)
    state = _END.get(record.dagster_run.status) if record else None
    start = _marker(run_id, "start")
    if record is None or state is None or not start.exists() or not _claim(run_id, "end", state):
        return False
    started = json.loads(start.read_text(encoding="utf-8"))
    at = datetime.fromtimestamp(record.end_time, UTC) if record.end_time else None
    error = f"the Dagster run ended {record.dagster_run.status.value}" if state != "COMPLETE" else None
    delivery.emit(parent_event(state, started["domain"], started["job"], run_id, at, error), log)
    return True


def _open_runs_of(build_id: str) -> list[str]:
    folder = settings.lineage_dir() / "runs"
    found = []
    for start in folder.glob("*.start") if folder.is_dir() else []:
        run_id = start.name.removesuffix(".start")
        try:
            if json.loads(start.read_text(encoding="utf-8")).get("build") == build_id:
                found.append(run_id)
        except (OSError, ValueError):  # being written by a step right now: not a finished run of ours
            continue
    return [r for r in found if not _marker(r, "end").exists()]


def end_build_runs(build_id: str) -> None:
    """The end of the runs a ``mesh build`` worker ran (its build id). Never raises."""
    try:
        if not (run_ids := _open_runs_of(build_id)):
            return  # nothing started (or lineage already sent): no instance to open
        with dg.DagsterInstance.from_config(str(settings.dagster_home())) as instance:
            for run_id in run_ids:
                run_ended(instance, run_id)
    except Exception:  # lineage must not fail a build
        log.exception("OpenLineage: could not send the end of the build's runs")


def prune(older_than: timedelta = timedelta(days=7)) -> None:
    """Forget the markers of runs that ended long ago (the sensor calls it)."""
    limit = (datetime.now(UTC) - older_than).timestamp()
    for marker in (settings.lineage_dir() / "runs").glob("*.end"):
        if marker.stat().st_mtime < limit:
            _marker(marker.name.removesuffix(".end"), "start").unlink(missing_ok=True)
            marker.unlink(missing_ok=True)


def run_lineage_sensor() -> dg.SensorDefinition:
    """The daemon's side: the end of every run that finished since the last tick."""

    @dg.sensor(
        name=SENSOR,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Sends the OpenLineage end event (COMPLETE/FAIL/ABORT) of each finished domain run.",
    )
    def _ended(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        since = datetime.fromisoformat(context.cursor) if context.cursor else datetime.now(UTC) - timedelta(hours=1)
        records = context.instance.get_run_records(
            filters=dg.RunsFilter(statuses=list(_END), updated_after=since), order_by="update_timestamp", ascending=True
        )
        sent = sum(run_ended(context.instance, r.dagster_run.run_id) for r in records)
        if records:
            context.update_cursor(max(r.update_timestamp for r in records).isoformat())
        prune()
        return dg.SkipReason(f"sent the end of {sent} run(s)")

    return _ended
