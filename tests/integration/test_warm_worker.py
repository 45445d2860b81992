"""`mesh build` forks every run from one warm worker (meshwork.runtime.warm_worker): each forked run still
belongs to its code location and names its own process, a run that fails and poisons its process leaves
the next run untouched, and a build killed with kill -9 still ends the runs the worker forked."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest

from meshwork.runtime import orphan_runs, run_worker
from meshwork.runtime.instance import ensure_local_instance
from tests.conftest import BIN, REPO, mesh_cli

pytestmark = pytest.mark.slow

_FORKED = re.compile(r"warm worker (?P<worker>\d+): forked (?P<job>\S+) as pid (?P<pid>\d+)")


def forks(home: Path) -> dict[str, tuple[int, int]]:
    """job -> (warm worker pid, forked pid), from the warm workers' logs of every build in ``home``."""
    found = {}
    for log in (home / "logs").rglob("warm-worker*.log"):
        for m in _FORKED.finditer(log.read_text(errors="replace")):
            found[m["job"]] = (int(m["worker"]), int(m["pid"]))
    return found


def worker_pid(run: dg.DagsterRun) -> int:
    return int(run.tags[run_worker.WORKER_TAG].rsplit(":", 2)[1])


def poison_tickets(project: Path) -> None:
    """support/tickets breaks the process it runs in (instance, environment), then fails."""
    code = project / "domains/support/products/tickets.py"
    text = code.read_text()
    marker = "    dump = ctx.source_path("
    poison = (
        "    import os as _os\n"
        "    import dagster as _dg\n"
        "    _os.environ['DAGSTER_HOME'] = '/nonexistent'\n"
        "    _dg.DagsterInstance.get = staticmethod(lambda: (_ for _ in ()).throw(RuntimeError('poisoned')))\n"
        "    raise ValueError('tickets poisoned its process')\n"
    )
    code.write_text(text.replace(marker, poison + marker))


def test_forked_runs_belong_to_their_location_and_a_failed_run_does_not_poison_the_next(project: Path, mesh_home: Path):
    poison_tickets(project)
    env = {**os.environ, "MESH_PROJECT_DIR": str(project)}
    result = mesh_cli(
        "build", "--orders", "200", "--domain", "customers", "--domain", "support", "--parallel", "1",
        cwd=project, env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "tickets poisoned its process" in result.stdout + result.stderr
    assert "mesh metrics measured" in result.stdout, result.stdout  # forked after the poisoned run

    forked = forks(mesh_home)
    assert set(forked) == {"customers_build", "support_build", "mesh_metrics"}, forked
    assert len({worker for worker, _ in forked.values()}) == 1  # one warm worker forked all three
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as instance:
        runs = {run.job_name: run for run in instance.get_runs()}
        assert runs["customers_build"].status == dg.DagsterRunStatus.SUCCESS
        assert runs["support_build"].status == dg.DagsterRunStatus.FAILURE
        assert runs["mesh_metrics"].status == dg.DagsterRunStatus.SUCCESS
        for job, location in [
            ("customers_build", "customers"),
            ("support_build", "support"),
            ("mesh_metrics", "platform"),
        ]:
            run = runs[job]
            # The run belongs to its code location, as a launched run does, and names its own process.
            assert run.remote_job_origin is not None
            assert run.remote_job_origin.location_name == location
            assert worker_pid(run) == forked[job][1] != forked[job][0]
        assert orphan_runs.BUILD_TAG in runs["customers_build"].tags


def wait_for(condition, what: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


@pytest.mark.timeout(900)
def test_kill_9_of_the_build_ends_the_warm_worker_and_the_runs_it_forked(mesh_home: Path):
    assert mesh_cli("generate", "--orders", "1000").returncode == 0
    ensure_local_instance()
    build = subprocess.Popen(
        [str(BIN / "mesh"), "build"],
        cwd=REPO,
        start_new_session=True,  # as a shell job: killing its group must not kill pytest
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = dg.RunsFilter(job_name="sales_build", statuses=[dg.DagsterRunStatus.STARTED])
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as instance:
        # sales runs dbt: it is still running when the build is killed.
        run = wait_for(lambda: next(iter(instance.get_runs(filters=started)), None), "sales never started")
        child = psutil.Process(worker_pid(run))
        worker = child.parent()
        assert worker is not None and worker.pid != build.pid and worker.ppid() == build.pid
        assert os.getpgid(child.pid) == child.pid != os.getpgid(build.pid)  # a process group of its own
        os.killpg(build.pid, signal.SIGKILL)  # the build's group: the worker and the run are not in it
        build.wait()
        # The kernel tells the worker (its parent died), the worker's death tells the run.
        _, alive = psutil.wait_procs([worker, child], timeout=300)
        if alive:
            raise TimeoutError(f"still running after the build was killed: {alive}")
        ended = wait_for(
            lambda: (r := instance.get_run_by_id(run.run_id)) and r.status != dg.DagsterRunStatus.STARTED and r,
            "the run is still STARTED",
        )
        assert ended.status == dg.DagsterRunStatus.FAILURE
        assert not [r.run_id for r in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))]
