"""The Dagster instance on PostgreSQL: builds recorded there, the run queue's per-domain limit, and
what a build does when the server goes away (tests/postgres.py says where the server comes from)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from meshwork.storage import snapshots
from tests import postgres
from tests.conftest import BIN, REPO, mesh_cli, run

pytestmark = pytest.mark.slow

TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
ACTIVE = {dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED}


@dataclass
class PostgresMesh:
    home: Path
    db_url: str
    env: dict[str, str]
    build: subprocess.CompletedProcess
    build_runs: list[str]


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """The URL of a server to create test databases on: the CI one, else a private cluster."""
    if url := os.environ.get(postgres.URL_VAR):
        yield url
        return
    with postgres.private_cluster() as cluster:
        yield cluster.url


@pytest.fixture(scope="module")
def pg_mesh(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresMesh]:
    """customers, then sales and support side by side (both read only customers), on a fresh database."""
    home = tmp_path_factory.mktemp("pg_mesh") / "mesh_home"
    with postgres.database(postgres_server) as db_url:
        env = {
            **os.environ,
            "MESH_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
            "MESH_PROJECT_DIR": str(REPO),
            "MESH_DAGSTER_POSTGRES_URL": db_url,
        }
        build = mesh_cli("build", "--domain", "customers", "--domain", "sales", "--domain", "support", env=env)
        with open_instance(home) as instance:
            build_runs = [r.run_id for r in instance.get_runs()]
        yield PostgresMesh(home, db_url, env, build, build_runs)


@pytest.fixture
def on_pg_mesh(pg_mesh: PostgresMesh, monkeypatch: pytest.MonkeyPatch) -> PostgresMesh:
    """This process pointed at the shared mesh, as its CLI children are."""
    for name in ("MESH_HOME", "DAGSTER_HOME", "MESH_DAGSTER_POSTGRES_URL"):
        monkeypatch.setenv(name, pg_mesh.env[name])
    return pg_mesh


def open_instance(mesh_home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(mesh_home / "dagster"))


def overlap(a: dg.RunRecord, b: dg.RunRecord) -> bool:
    assert a.start_time and a.end_time and b.start_time and b.end_time
    return a.start_time < b.end_time and b.start_time < a.end_time


def test_a_mesh_build_records_every_domain_run_in_postgres(on_pg_mesh: PostgresMesh):
    mesh = on_pg_mesh
    assert mesh.build.returncode == 0, mesh.build.stdout + mesh.build.stderr
    out = mesh.build.stdout
    assert "Dagster instance storage: PostgreSQL at 127.0.0.1:" in out
    # sales and support were both started before either finished: two domains writing to Postgres at once.
    assert max(out.index("building sales"), out.index("building support")) < min(
        out.index("sales ok"), out.index("support ok")
    )
    with open_instance(mesh.home) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        every = instance.get_run_records(filters=dg.RunsFilter(run_ids=mesh.build_runs))
        # Besides one run per domain, mesh build measures the mesh in a run of the platform location.
        assert sorted(r.dagster_run.job_name for r in every if "meshwork/domain" not in r.dagster_run.tags) == [
            "mesh_metrics"
        ]
        records = {r.dagster_run.tags["meshwork/domain"]: r for r in every if "meshwork/domain" in r.dagster_run.tags}
        assert set(records) == {"customers", "sales", "support"}
        assert {r.dagster_run.job_name for r in records.values()} == {"customers_build", "sales_build", "support_build"}
        assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records.values())
        assert not overlap(records["customers"], records["sales"])  # a consumer waits for its producer
        orders = instance.get_latest_materialization_event(dg.AssetKey(["sales", "orders"]))
        assert orders is not None and orders.run_id == records["sales"].dagster_run.run_id
        # Every warehouse step claimed its domain's pool, whose slots live in Postgres too.
        pools = set(instance.event_log_storage.get_concurrency_keys())
        assert {"warehouse_customers", "warehouse_sales", "warehouse_support"} <= pools
    tables = {t for (t,) in postgres.query(mesh.db_url, "SELECT table_name FROM information_schema.tables")}
    assert {"runs", "run_tags", "event_logs", "jobs", "job_ticks", "instigators", "concurrency_slots"} <= tables
    ids = ", ".join(f"'{r}'" for r in mesh.build_runs)
    assert postgres.query(mesh.db_url, f"SELECT count(*) FROM runs WHERE run_id IN ({ids})") == [(4,)]
    assert not (mesh.home / "dagster" / "history" / "runs.db").exists()  # nothing went to SQLite
    assert mesh_cli("ports", "verify").returncode == 0


def workspace(path: Path, domains: list[str]) -> Path:
    entries = [
        {
            "python_module": {
                "module_name": f"domains.{d}.definitions",
                "location_name": d,
                "working_directory": str(REPO),
            }
        }
        for d in domains
    ]
    path.write_text(yaml.safe_dump({"load_from": entries}), encoding="utf-8")
    return path


def launch(domain: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Submit the domain's build job to the instance's run coordinator, as the UI or a schedule does."""
    ws = workspace(tmp_path / f"workspace-{domain}.yaml", [domain])
    return run([str(BIN / "dagster"), "job", "launch", "-w", str(ws), "-l", domain, "-j", f"{domain}_build"], REPO)


def test_the_run_queue_admits_one_run_per_domain_while_other_domains_run_alongside(
    on_pg_mesh: PostgresMesh, tmp_path: Path
):
    wanted = ["customers", "customers", "support"]
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        launched = list(pool.map(lambda d: launch(d, tmp_path), wanted))
    assert all(p.returncode == 0 for p in launched), [p.stderr[-2000:] for p in launched if p.returncode]
    with open_instance(on_pg_mesh.home) as instance:
        queued = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
        assert sorted(r.tags["meshwork/domain"] for r in queued) == sorted(wanted)  # the job's run tags
        ids = [r.run_id for r in queued]
        most_at_once = watch_daemon(instance, ids, tmp_path)
        records = instance.get_run_records(filters=dg.RunsFilter(run_ids=ids))
    statuses = [r.dagster_run.status for r in records]
    assert set(statuses) == {dg.DagsterRunStatus.SUCCESS}, (tmp_path / "daemon.log").read_text()[-4000:]
    by_domain = {
        d: sorted((r for r in records if r.dagster_run.tags["meshwork/domain"] == d), key=lambda r: r.start_time or 0)
        for d in ("customers", "support")
    }
    for domain, runs in by_domain.items():
        for earlier, later in zip(runs, runs[1:], strict=False):
            assert not overlap(earlier, later), f"two {domain} runs ran at once"
    assert most_at_once["customers"] == 1
    # The limit is per domain, not global: a customers run and a support run did run at the same time.
    # The limit is per domain, not global: the queue had a customers and a support run in progress
    # at the same time. (Their RUN_START..end windows need not overlap: a run's process takes
    # longer to start than these tiny runs take to finish.)
    assert most_at_once["together"] == 1


def watch_daemon(instance: dg.DagsterInstance, ids: list[str], tmp_path: Path) -> dict[str, int]:
    """Run `dagster-daemon` until the runs are done. Returns the most runs of each domain seen in
    progress at once, and under "together" 1 if runs of both domains were ever in progress at once."""
    ws = workspace(tmp_path / "workspace.yaml", ["customers", "support"])
    most = {"customers": 0, "support": 0, "together": 0}
    with (tmp_path / "daemon.log").open("w") as log:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(ws)],
            cwd=REPO,
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code servers and run workers stop with it
        )
        try:
            deadline = time.monotonic() + 420
            while time.monotonic() < deadline:
                runs = instance.get_runs(filters=dg.RunsFilter(run_ids=ids))
                active = [r.tags["meshwork/domain"] for r in runs if r.status in ACTIVE]
                for domain in ("customers", "support"):
                    most[domain] = max(most[domain], active.count(domain))
                most["together"] |= int({"customers", "support"} <= set(active))
                if all(r.status in TERMINAL for r in runs):
                    break
                time.sleep(0.3)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)
    return most


def snapshots_intact(domain: str, product: str) -> tuple[str | None, list[str]]:
    """The latest snapshot, and every visible snapshot that fails its manifest checksums."""
    latest = snapshots.latest_snapshot(domain, product, 1)
    damaged = [
        s
        for s in snapshots.snapshots(snapshots.version_dir(domain, product, 1))
        if snapshots.verify(snapshots.read_manifest(domain, product, 1, s))
    ]
    return latest, damaged


def test_postgres_going_away_fails_the_build_clearly_keeps_ports_whole_and_a_rerun_recovers(
    mesh_home: Path, monkeypatch: pytest.MonkeyPatch
):
    with postgres.private_cluster() as cluster:  # its own server: this test stops it
        monkeypatch.setenv("MESH_DAGSTER_POSTGRES_URL", cluster.url)
        assert mesh_cli("build", "--domain", "customers").returncode == 0
        first, damaged = snapshots_intact("customers", "customer_profiles")
        assert first and not damaged

        # Down before the build: it refuses to start, naming the storage, and writes nothing.
        cluster.stop()
        refused = mesh_cli("build", "--domain", "customers")
        assert refused.returncode == 1
        assert f"cannot open the Dagster instance storage (PostgreSQL at 127.0.0.1:{cluster.port}/meshwork" in (
            refused.stderr
        )
        assert snapshots_intact("customers", "customer_profiles") == (first, [])

        # Down in the middle of a run: the server crashes once the product's step has started.
        cluster.start()
        before = step_starts(cluster.url)
        build = subprocess.Popen(
            [str(BIN / "mesh"), "build", "--domain", "customers"],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 300
        while step_starts(cluster.url) == before and build.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert build.poll() is None, "the build ended before its step started"
        cluster.stop("immediate")
        out, _ = build.communicate(timeout=300)
        assert build.returncode == 1, out
        assert "customers FAILED" in out
        assert f"error: cannot open the Dagster instance storage (PostgreSQL at 127.0.0.1:{cluster.port}" in out
        latest, damaged = snapshots_intact("customers", "customer_profiles")
        assert latest and not damaged  # the old snapshot, or a complete new one: never a partial one
        assert mesh_cli("ports", "verify").returncode == 0

        # Back up: the same build succeeds and publishes a new snapshot.
        cluster.start()
        rerun = mesh_cli("build", "--domain", "customers")
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        final, damaged = snapshots_intact("customers", "customer_profiles")
        assert final not in (first, latest) and not damaged
        assert mesh_cli("ports", "verify").returncode == 0
        with open_instance(mesh_home) as instance:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"meshwork/domain": "customers"}))
            # Newest first. The run that lost its storage could not record its end: the rerun's build
            # marked it failed and freed its warehouse pool slot, which it would otherwise hold forever.
            assert [r.status.value for r in runs] == ["SUCCESS", "FAILURE", "SUCCESS"]
            assert instance.event_log_storage.get_concurrency_info("warehouse_customers").active_slot_count == 0


def step_starts(url: str) -> int:
    """Steps started so far in the instance (-1 while the server cannot answer)."""
    try:
        return postgres.query(url, "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'STEP_START'")[0][0]
    except Exception:  # psycopg2 raises several types while the server restarts
        return -1
