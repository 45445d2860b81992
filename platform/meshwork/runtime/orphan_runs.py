"""Runs whose process died without telling the instance: found, failed, and their pool slots freed.

A run process that loses its instance storage (PostgreSQL down) or is killed cannot record its
failure: the run stays STARTED and keeps the pool slot of its running step, so every later run of the
domain waits for the warehouse pool forever. Dagster's run monitoring cannot see this: it asks the run
launcher whether a worker is alive, and the default launcher cannot tell (nor did it launch the runs of
``mesh build``). Two ways close them here:

- the build that started a run: each run carries a build id (:data:`BUILD_TAG`); once the process has
  exited without a success, the build marks its unfinished runs failed and frees their slots, or, if the
  storage is down, notes the id so the next build can do it (:func:`close_or_remember`);
- anyone, later (:func:`recover`): each run of ``mesh build`` names its worker process
  (``meshwork.runtime.run_worker``); a run not finished whose worker and that worker's process group
  have all exited is failed and its slots freed. Every ``mesh build`` and ``mesh dev`` does it before it
  starts (``meshwork.runtime.instance.ensure_local_instance``), the catalog when it opens the instance,
  and the daemon through the platform location's sensor :func:`recovery_sensor`, every 30 s. It also
  frees slots that finished runs still hold, as the daemon's run monitoring does after 60 s.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from meshwork.core import settings
from meshwork.runtime import run_worker

BUILD_TAG = "meshwork/build"
_FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# Statuses of a run whose worker process exists or existed (QUEUED runs have none yet).
_WORKING = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
RECOVERY_SENSOR = "meshwork_run_recovery"


def new_build_id(domain: str) -> str:
    return f"{domain}-{uuid.uuid4().hex[:12]}"


def _pending_file() -> Path:
    return settings.dagster_home() / "unclosed-builds.txt"


def close(instance: dg.DagsterInstance, build_id: str) -> list[str]:
    """Mark the unfinished runs of a build whose process has exited failed; free their pool slots."""
    closed = []
    for run in instance.get_runs(filters=dg.RunsFilter(tags={BUILD_TAG: build_id})):
        if run.status in _FINISHED:
            continue
        instance.report_run_failed(run, "the run's process exited before it could record the end of the run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        closed.append(run.run_id)
    return closed


def close_or_remember(build_id: str, ping: Callable[[], str | None]) -> list[str]:
    """Close the build's runs now, or, when the instance cannot be reached, at the next build.

    ``ping`` says why the instance storage does not answer (``meshwork.runtime.instance.ping``).
    """
    try:
        if problem := ping():
            raise ConnectionError(problem)
        with dg.DagsterInstance.from_config(str(settings.dagster_home())) as instance:
            return close(instance, build_id)
    except Exception:  # the storage is down: whatever the driver raises
        with _pending_file().open("a", encoding="utf-8") as pending:
            pending.write(build_id + "\n")
        return []


def close_remembered(instance: dg.DagsterInstance) -> list[str]:
    """Close the runs of builds noted while the storage was down (called once it answers again)."""
    pending = _pending_file()
    if not pending.exists():
        return []
    closed = [r for build_id in pending.read_text(encoding="utf-8").split() for r in close(instance, build_id)]
    pending.unlink()
    return closed


def recover(instance: dg.DagsterInstance) -> list[str]:
    """Fail the unfinished runs whose worker is gone and free their slots; free slots of finished runs.

    Returns the ids of the runs it failed. Runs that name no worker, or a worker on another host,
    are left alone: nothing here can tell whether they still run.
    """
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_WORKING)):
        worker = run.tags.get(run_worker.WORKER_TAG)
        if not worker or not run_worker.is_gone(worker):
            continue
        instance.report_run_failed(run, f"the run's worker process ({worker}) is gone: it was killed or crashed")
        # report_run_failed leaves the slots claimed (the daemon would free them only a minute later).
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    for run_id in instance.event_log_storage.get_concurrency_run_ids():
        held_by = instance.get_run_by_id(run_id)
        if held_by is None or held_by.status in _FINISHED:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return failed


def recovery_sensor() -> dg.SensorDefinition:
    """The daemon's side of :func:`recover`: every 30 s, so a dead run is closed within a minute."""

    @dg.sensor(
        name=RECOVERY_SENSOR,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Fails runs whose worker process is gone (killed, crashed) and frees their pool slots.",
    )
    def _recover(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        if closed := recover(context.instance):
            message = f"failed {len(closed)} run(s) whose worker is gone and freed their slots: {', '.join(closed)}"
            context.log.warning(message)
            return dg.SkipReason(message)
        return dg.SkipReason("no run has lost its worker")

    return _recover
