"""Runs whose worker is gone are failed and their pool slots freed; a run's worker dies with its build."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import psutil
import pytest

from meshwork.runtime import instance as mesh_instance
from meshwork.runtime import orphan_runs, run_worker

POOL = "warehouse_sales"


def add_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, worker: str | None) -> str:
    run_id = str(uuid.uuid4())
    tags = {run_worker.WORKER_TAG: worker} if worker else {}
    instance.add_run(dg.DagsterRun(job_name="sales_build", run_id=run_id, status=status, tags=tags))
    return run_id


def exited_worker() -> str:
    """The tag of a worker that ran and has exited (and been reaped)."""
    proc = subprocess.Popen(["sleep", "600"], process_group=0)
    tag = run_worker.worker_tag(proc.pid)
    proc.kill()
    proc.wait()
    return tag


def tag_of(pid: int) -> str:
    """The worker tag of ``pid``, read while it is a zombie (psutil refuses some calls on zombies)."""
    host = run_worker.worker_tag().rsplit(":", 2)[0]
    return f"{host}:{pid}:{psutil.Process(pid).create_time():.2f}"


def pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:  # exited while listing
        return None


def zombie(script: str) -> subprocess.Popen:
    """A group leader that has exited but is not reaped yet, having run ``script`` with ``sh``."""
    proc = subprocess.Popen(["sh", "-c", script], process_group=0)
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:  # pytest-timeout ends a hang
        os.sched_yield()
    return proc


@pytest.fixture
def instance(mesh_home: Path):
    mesh_instance.ensure_local_instance()
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as opened:
        opened.event_log_storage.set_concurrency_slots(POOL, 1)
        yield opened


def held_slots(instance: dg.DagsterInstance) -> list[str | None]:
    return [slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots]


def test_a_dead_workers_run_is_failed_and_its_slot_freed_while_others_are_left_alone(instance: dg.DagsterInstance):
    dead = add_run(instance, dg.DagsterRunStatus.STARTED, exited_worker())
    instance.event_log_storage.claim_concurrency_slot(POOL, dead, "sales__dbt")
    alive = add_run(instance, dg.DagsterRunStatus.STARTED, run_worker.worker_tag())  # this process
    elsewhere = add_run(instance, dg.DagsterRunStatus.STARTED, "another-host:4242:1700000000.00")
    untagged = add_run(instance, dg.DagsterRunStatus.STARTED, None)  # launched by the daemon, say
    assert held_slots(instance) == [dead]  # what wedged the domain: every later step waits for it

    assert orphan_runs.recover(instance) == [dead]

    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    assert held_slots(instance) == []
    for run_id in (alive, elsewhere, untagged):
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert orphan_runs.recover(instance) == []  # nothing twice


def test_a_finished_run_still_holding_a_slot_has_it_freed(instance: dg.DagsterInstance):
    finished = add_run(instance, dg.DagsterRunStatus.FAILURE, None)
    instance.event_log_storage.claim_concurrency_slot(POOL, finished, "sales__dbt")
    assert orphan_runs.recover(instance) == []
    assert held_slots(instance) == []


def test_the_daemon_sensor_fails_the_run_of_a_dead_worker(instance: dg.DagsterInstance):
    dead = add_run(instance, dg.DagsterRunStatus.NOT_STARTED, exited_worker())
    result = orphan_runs.recovery_sensor()(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SkipReason) and dead in (result.skip_message or "")
    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE


def test_a_worker_counts_as_alive_while_any_process_of_its_group_lives():
    # The leader exits (unreaped: a zombie) while a process it started, in its group, still runs.
    proc = zombie("sleep 600 & exit 0")
    tag = tag_of(proc.pid)
    assert not run_worker.is_gone(tag)
    [member] = [p for p in psutil.process_iter() if p.pid != proc.pid and pgid(p.pid) == proc.pid]
    member.kill()
    while member.is_running() and member.status() != psutil.STATUS_ZOMBIE:
        os.sched_yield()
    assert run_worker.is_gone(tag)
    proc.wait()


def test_an_unreaped_worker_alone_in_its_group_is_gone():
    proc = zombie("exit 0")
    assert run_worker.is_gone(tag_of(proc.pid))
    proc.wait()


def test_a_reused_pid_does_not_pass_for_the_worker():
    host = run_worker.worker_tag().rsplit(":", 2)[0]
    assert run_worker.is_gone(f"{host}:{os.getpid()}:12.00")  # this pid, but not started at that time
    assert not run_worker.is_gone("not a tag")


def test_the_worker_tag_is_merged_into_the_runs_tags():
    run = ["dagster", "job", "execute", "--tags", '{"meshwork/build": "b1"}', "-j", "x"]
    tagged = run_worker.with_worker_tag(run, "h:1:2.00")
    assert tagged[4] == '{"meshwork/build": "b1", "meshwork/worker": "h:1:2.00"}' and tagged[5:] == ["-j", "x"]
    assert run_worker.with_worker_tag(["sleep", "1"], "h:1:2.00") == ["sleep", "1"]


PARENT = """
import os, signal, subprocess, sys, time
from meshwork.runtime import run_worker
# Started from a shell or CI runner that ignores and blocks SIGTERM: both survive fork and exec.
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
child = subprocess.Popen(run_worker.command(os.getpid(), ["/bin/sleep", "600"]), process_group=0)
print(child.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.timeout(240)  # a hang guard: the worker's start-up is slow on a loaded 2-core machine
def test_a_run_worker_dies_when_its_build_is_killed_with_sigkill():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout
    child = psutil.Process(int(parent.stdout.readline()))
    while child.cmdline()[:1] != ["/bin/sleep"]:  # the worker has set itself up and exec'd the run
        os.sched_yield()
    assert os.getpgid(child.pid) == child.pid  # its own group: a kill of the build's group misses it
    parent.kill()
    parent.wait()
    child.wait()  # a `sleep 600` that outlived its build would hang here until pytest-timeout
