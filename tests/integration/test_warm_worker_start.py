"""The warm worker starts before anything else of `mesh build` (its imports overlap the build's own
start-up) and creates the instance's storage when the build asks, not before: two processes creating the
same SQLite tables at once collide. A storage it cannot open fails the build with the same message as
before, and a build that stops before its first run (an invalid mesh, an unknown domain) does not leave
the worker behind or wait for its imports."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import psutil
import pytest

from meshwork.runtime import warm_runs
from meshwork.runtime.instance import InstanceUnavailable
from tests.conftest import REPO, mesh_cli

pytestmark = pytest.mark.slow

_LOADED = re.compile(r"warm worker (?P<pid>\d+): loaded (?P<what>.+) in ")


def loaded(log: Path) -> list[str]:
    return [m["what"] for m in _LOADED.finditer(log.read_text(errors="replace"))] if log.exists() else []


def wait_until(condition, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def idle(process: psutil.Process) -> bool:
    """No CPU used for a second (it waits in select)."""
    before = sum(process.cpu_times()[:2])
    time.sleep(1.0)
    return sum(process.cpu_times()[:2]) - before < 0.01


def test_the_worker_creates_the_instance_only_when_the_build_asks(mesh_home: Path, tmp_path: Path):
    log = tmp_path / "worker.log"
    storage = mesh_home / "dagster" / "storage"
    with warm_runs.session(log) as worker:
        assert worker is not None
        wait_until(lambda: "the code locations' modules" in loaded(log), "the worker's imports")
        # Until it is idle: a worker that did not wait would go on to open the storage and parse dbt.
        wait_until(lambda: idle(psutil.Process(worker.proc.pid)), "the worker waiting")
        assert "the Dagster instance's storage" not in loaded(log), log.read_text()
        assert not storage.exists()
        warm_runs.ensure_instance()
        wait_until(lambda: len(loaded(log)) == 5, "the worker's later stages")
        assert loaded(log) == [
            "Dagster and the mesh runtime",
            "the code locations' modules",
            "the Dagster instance's storage",
            "dbt and the parsed dbt project",
            "pandera for the domains' Python checks",
        ]
        pid = worker.proc.pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_build_that_stops_before_its_first_run_leaves_no_worker(mesh_home: Path):
    result = mesh_cli("build", "--domain", "no_such_domain")
    assert result.returncode == 2 and "unknown domain(s): no_such_domain" in result.stderr, result.stderr
    logs = list((mesh_home / "logs").glob("warm-worker-*.log"))
    assert len(logs) == 1, logs  # it was started, before the mesh was loaded
    pids = {int(m) for m in re.findall(r"warm worker (\d+):", logs[0].read_text())}
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    # No pid in the log means it was ended during its imports: no worker of this MESH_HOME may be left.
    assert [p.pid for p in psutil.process_iter(["cmdline"]) if is_worker_of(p, mesh_home)] == []


def is_worker_of(process: psutil.Process, home: Path) -> bool:
    try:
        command = " ".join(process.info["cmdline"] or [])
        return "meshwork.runtime.warm_worker" in command and process.environ().get("MESH_HOME") == str(home)
    except psutil.Error:  # ended meanwhile, or not ours to read
        return False


def test_an_instance_storage_the_worker_cannot_open_fails_the_build_naming_it(
    mesh_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    monkeypatch.setenv("MESH_DAGSTER_POSTGRES_URL", "postgresql://mesh:pw@127.0.0.1:9/dagster")
    log = tmp_path / "worker.log"
    with pytest.raises(InstanceUnavailable) as failure, warm_runs.session(log):
        warm_runs.ensure_instance()
    assert "cannot open the Dagster instance storage (PostgreSQL at 127.0.0.1:9/dagster" in str(failure.value)
    assert "pw@" not in str(failure.value)
    assert "could not create the Dagster instance's storage" in log.read_text()  # the worker tried, not this process
    result = mesh_cli("build", "--domain", "customers")
    assert result.returncode == 1, result.stderr
    assert "cannot open the Dagster instance storage (PostgreSQL at 127.0.0.1:9/dagster" in result.stderr
    assert "nothing was built" in result.stderr


def test_a_run_without_dbt_is_forked_before_the_dbt_parse_and_a_dbt_run_after_it(mesh_home: Path, tmp_path: Path):
    log = tmp_path / "worker.log"
    with warm_runs.session(log) as worker:
        assert worker is not None
        warm_runs.ensure_instance()
        started = {}
        for domain, needs_dbt in (("finance", True), ("support", False)):  # the dbt one asked first
            with (tmp_path / f"{domain}.log").open("w") as out:
                argv = warm_runs.located_command(domain, f"{domain}_build", {})
                started[domain] = worker.start(argv, env=dict(os.environ), cwd=REPO, out=out, needs_dbt=needs_dbt)
        for run in started.values():
            run.wait()  # failing or not (no sources here): the order they were forked in is the point
    events = [line.split(": ", 1)[1] for line in log.read_text().splitlines() if "warm worker" in line]
    parsed = next(i for i, e in enumerate(events) if e.startswith("loaded dbt and the parsed dbt project"))
    forked = {e.split()[1]: i for i, e in enumerate(events) if e.startswith("forked ")}
    assert forked["support_build"] < parsed < forked["finance_build"], events
