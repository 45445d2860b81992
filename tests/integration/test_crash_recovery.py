"""kill -9 of `mesh build` at random points: the next `mesh build` completes and every port verifies.

Two kinds of kill alternate. The build's process group only (a `kill -9 -- -<pgid>` of the shell job):
the runs, in groups of their own, get SIGTERM from the kernel and end themselves. And everything at
once (the OOM killer, a stopped container): the runs are left STARTED holding their warehouse's pool
slot, and the next build must fail them and free the slot before its own runs can start.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest

from meshwork.runtime.instance import ensure_local_instance
from tests.conftest import BIN, REPO, mesh_cli

pytestmark = pytest.mark.slow

# 3 kills in CI (about 2 minutes each on a 2-core machine); the closing note of issue 15 reports 20.
KILLS = int(os.environ.get("MESH_TEST_KILLS", "3"))
_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def unfinished_runs(instance: dg.DagsterInstance) -> list[str]:
    return [run.run_id for run in instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED))]


def kill_everything(build: subprocess.Popen) -> None:
    """SIGKILL the build and every process under it, in whatever group, before any can react."""
    tree = build_tree(build)
    os.killpg(build.pid, signal.SIGKILL)
    for proc in tree:
        try:
            os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
        except ProcessLookupError:
            continue
    psutil.wait_procs(tree)  # SIGKILLed: they end at once


def build_tree(build: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(build.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def held_slots(instance: dg.DagsterInstance) -> list[str]:
    """The runs holding a pool slot (a warehouse's one writer)."""
    storage = instance.event_log_storage
    return [
        slot.run_id
        for key in storage.get_concurrency_keys()
        for slot in storage.get_concurrency_info(key).claimed_slots
        if slot.run_id
    ]


def first_held_slot(instance: dg.DagsterInstance, build: subprocess.Popen) -> None:
    """Wait until one of the build's runs holds its warehouse's pool slot (the state that wedged domains)."""
    while not held_slots(instance):
        assert build.poll() is None, "the build ended before any run took a pool slot"
        time.sleep(0.1)


@pytest.mark.timeout(600 + 300 * KILLS)
def test_kill_9_of_mesh_build_never_wedges_a_domain(mesh_home: Path):
    env = dict(os.environ)
    rng = random.Random(15)
    assert mesh_cli("generate", "--orders", "1000", env=env).returncode == 0
    start = time.monotonic()
    first = mesh_cli("build", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    duration = time.monotonic() - start  # only to spread the kill points over a build on this machine
    left_behind = holding = 0
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as instance:
        for attempt in range(KILLS):
            # Its own session, as a shell job is: killing its group must not kill pytest.
            build = subprocess.Popen(
                [str(BIN / "mesh"), "build"], cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL
            )
            if attempt % 2 == 0:
                first_held_slot(instance, build)
                time.sleep(0 if attempt == 0 else rng.uniform(0, 0.3) * duration)
                kill_everything(build)
                left, held = unfinished_runs(instance), held_slots(instance)
                left_behind, holding = left_behind + len(left), holding + len(held)
                print(f"attempt {attempt}: killed everything, {len(left)} run(s) left unfinished, {len(held)} slot(s)")
            else:
                # Anywhere from the first run's start to near the build's end: a kill before any run
                # starts would prove nothing about runs.
                while not build_tree(build):
                    assert build.poll() is None, "the build ended before it started a run"
                    time.sleep(0.05)
                time.sleep(rng.uniform(0, 0.8) * duration)
                runs = len(build_tree(build))
                os.killpg(build.pid, signal.SIGKILL)
                print(f"attempt {attempt}: killed the build's group, {runs} process(es) under it left to end")
            build.wait()

            after = mesh_cli("build", env=env)
            assert after.returncode == 0, f"attempt {attempt}:\n{after.stdout}\n{after.stderr}"
            assert unfinished_runs(instance) == [], attempt
            assert held_slots(instance) == [] and instance.event_log_storage.get_concurrency_run_ids() == set(), attempt
            verified = mesh_cli("ports", "verify", env=env)
            assert verified.returncode == 0, f"attempt {attempt}:\n{verified.stdout}\n{verified.stderr}"
        failed_by_recovery = [
            run
            for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
            if any(
                "worker process" in event.message
                for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            )
        ]
    # The hard case happened: runs were left STARTED holding a slot by a kill, and a later build closed them.
    assert left_behind and holding and len(failed_by_recovery) >= left_behind


@pytest.mark.timeout(600)
def test_ctrl_c_stops_the_builds_runs_and_leaves_none_behind(mesh_home: Path):
    env = dict(os.environ)
    assert mesh_cli("generate", "--orders", "1000", env=env).returncode == 0
    ensure_local_instance()  # created here first: two processes creating its SQLite tables at once collide
    build = subprocess.Popen(
        [str(BIN / "mesh"), "build", "--domain", "customers"],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as instance:
        first_held_slot(instance, build)
        tree = build_tree(build)
        os.killpg(build.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground group
        output = build.communicate()[0]
        assert build.returncode == 1 and "interrupted by SIGINT" in output, output
        # The build waited for its run to end: nothing under it still runs, nothing is left STARTED.
        assert not [proc for proc in tree if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE]
        assert unfinished_runs(instance) == [] and held_slots(instance) == []
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.FAILURE
