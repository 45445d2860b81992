"""Domains build at the same time without DuckDB lock errors; runs of one domain queue on its pool;
two `mesh build`s of one domain take turns."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from meshwork.runtime.build import materialize_command
from meshwork.runtime.build_processes import lock_path
from meshwork.runtime.instance import ensure_local_instance
from meshwork.storage import snapshots
from tests.conftest import BIN, REPO, mesh_cli

pytestmark = pytest.mark.slow


def start(domain: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, Path]:
    out = log.open("w")
    return subprocess.Popen(materialize_command(domain), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT), log


def test_two_domains_and_two_runs_of_one_domain_at_once_never_hit_a_duckdb_lock(mesh_home: Path, tmp_path: Path):
    env = dict(os.environ)
    assert mesh_cli("generate", "--orders", "3000", env=env).returncode == 0
    ensure_local_instance()
    # Two at a time, as `mesh build` runs them: the local SQLite instance is not made for more.
    for pair in (("sales", "customers"), ("customers", "customers")):
        procs = [start(domain, env, tmp_path / f"{domain}-{i}.log") for i, domain in enumerate(pair)]
        for proc, log in procs:
            assert proc.wait(timeout=600) == 0, log.read_text()[-4000:]
        for _, log in procs:
            text = log.read_text()
            assert "Could not set lock" not in text and "Conflicting lock" not in text, log
    # All three customers runs published, one writer at a time (the pool admits one).
    published = sorted(p.name for p in (mesh_home / "ports/customers/customer_profiles/v1").iterdir() if p.is_dir())
    assert len(published) == 3
    # Each snapshot names the run that built the data it holds.
    built_by = {snapshots.read_manifest("customers", "customer_profiles", 1, s).built_by_run for s in published}
    assert None not in built_by


@pytest.mark.timeout(900)
def test_two_concurrent_builds_of_one_domain_take_turns_and_keep_their_own_logs(mesh_home: Path):
    env = dict(os.environ)
    built = mesh_cli("build", "--orders", "1000", "--domain", "customers", env=env)  # sales reads customers
    assert built.returncode == 0, built.stdout + built.stderr
    # The test holds the domain's lock first, so both builds surely meet it, then lets them race for it.
    lock = lock_path("sales")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        builds = [
            subprocess.Popen(
                [str(BIN / "mesh"), "build", "--domain", "sales"],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        for proc in builds:
            assert proc.stdout
            for line in proc.stdout:
                if "waiting for another build of sales" in line:
                    break
            else:
                raise AssertionError(f"exit {proc.wait()}: the build never waited for the lock")
    outputs = [proc.communicate()[0] for proc in builds]
    assert [proc.returncode for proc in builds] == [0, 0], outputs
    # One after the other: each run of sales ended before the next began.
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as instance:
        records = sorted(instance.get_run_records(dg.RunsFilter(job_name="sales_build")), key=lambda r: r.start_time)
    assert len(records) == 2 and records[0].end_time <= records[1].start_time
    # Each build wrote its own log folder; neither run published tables the other had built.
    logs = sorted(mesh_home.glob("logs/build-*/sales.log"))
    assert len(logs) == 2
    for log in logs:
        assert "was built by run" not in log.read_text()
    for product in ("orders", "order_lines"):
        published = snapshots.snapshots(snapshots.version_dir("sales", product, 1))
        assert len(published) == 2
        for snapshot in published:
            manifest = snapshots.read_manifest("sales", product, 1, snapshot)
            assert manifest.built_by_run == manifest.run_id
