"""Runs whose process died without telling the instance, found and closed by the build that started them.

A run process that loses its instance storage (PostgreSQL down) or is killed cannot record its
failure: the run stays STARTED and keeps the pool slot of its running step, so every later run of the
domain waits for the warehouse pool forever. Nothing else closes such runs: the daemon's run
monitoring only watches runs it launched. ``mesh build`` tags each run it starts with a build id;
when the process has exited without a success, it marks the unfinished runs with that id failed and
frees their slots, or, if the storage is down, notes the id so the next build can do it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from meshwork.core import settings

BUILD_TAG = "meshwork/build"
_FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


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
