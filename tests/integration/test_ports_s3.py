"""Output ports on S3-compatible object storage, against a real S3 server (moto) on 127.0.0.1.

The same guarantees as the local store: a consumer gets exactly one complete snapshot, a publish
that dies leaves `latest` alone, damaged objects are refused by checksum, retention and the CLI work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit, settings
from meshwork.core.errors import PortAccessError, PublishError
from meshwork.governance import retention
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.ports.reader import PortReader
from meshwork.storage import snapshots, stores, warehouse
from meshwork.storage.s3_store import S3PortStore
from tests.conftest import mesh_cli
from tests.s3 import Bucket
from tests.unit.governance.test_retention import TABLE

ORDERS_SQL = """
    CREATE OR REPLACE TABLE orders AS
    SELECT range AS order_id, range % 7 AS customer_id, TIMESTAMP '2025-01-01' + to_seconds(range) AS order_ts,
           'completed' AS status, 'EMEA' AS region, 'EUR' AS currency, '{channel}' AS channel
    FROM range({n})
"""
CUSTOMERS = "(SELECT range AS customer_id FROM range(7))"


@pytest.fixture
def mesh(project: Path, s3_ports: Bucket):
    return load_mesh(project)


def publish_orders(mesh, n: int, run_id: str = "run-1", channel: str = "web") -> snapshots.Manifest:
    with warehouse.connect("sales") as con:
        con.execute(ORDERS_SQL.format(n=n, channel=channel))
        outcome = publish.publish(con, mesh.product("sales/orders"), "orders", run_id, lambda key: CUSTOMERS)
    return outcome.manifests[0]


def read_orders(mesh) -> list[tuple]:
    """What finance/daily_revenue, a declared consumer, gets through the port reader."""
    con = duckdb.connect()
    relation = PortReader(mesh, mesh.product("finance/daily_revenue"), con).relation("sales/orders")
    return relation.aggregate("count(*), count(DISTINCT channel), min(channel), sum(order_id)").fetchall()


def test_a_port_published_to_s3_is_read_by_its_consumer_through_the_port_reader(mesh, s3_ports: Bucket, mesh_home):
    manifest = publish_orders(mesh, 1000)
    snapshot = manifest.snapshot_id
    # The local layout, as object keys; nothing was written to the local ports folder.
    assert s3_ports.keys("sales/orders/v1/") == [
        f"sales/orders/v1/{snapshot}/_contract.odcs.yaml",
        f"sales/orders/v1/{snapshot}/_manifest.json",
        f"sales/orders/v1/{snapshot}/data_0.parquet",
        "sales/orders/v1/latest",
    ]
    assert s3_ports.get("sales/orders/v1/latest").decode().strip() == snapshot
    assert not (mesh_home / "ports").exists()
    assert snapshots.latest_snapshot("sales", "orders", 1) == snapshot
    assert snapshots.verify(manifest) == []

    assert read_orders(mesh) == [(1000, 1, "web", sum(range(1000)))]
    (entry,) = audit.entries("port.read")
    assert entry["consumer"] == "finance/daily_revenue" and entry["snapshot"] == snapshot
    # DuckDB scans the verified local copy, named by checksum, not the object store.
    resolved = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect()).resolve("sales/orders")
    sha = manifest.files[0].sha256
    assert resolved.files == [settings.port_cache_dir() / sha[:2] / f"{sha}.parquet"]


def test_a_reader_keeps_the_snapshot_it_resolved_when_retention_deletes_it(mesh):
    first = publish_orders(mesh, 10)
    con = duckdb.connect()
    relation = PortReader(mesh, mesh.product("finance/daily_revenue"), con).relation("sales/orders")
    stores.current().delete_snapshot("sales/orders/v1", first.snapshot_id)
    assert relation.aggregate("count(*)").fetchall() == [(10,)]


def test_a_reader_whose_snapshot_is_deleted_before_it_downloads_resolves_the_new_one(mesh, monkeypatch):
    publish_orders(mesh, 10, channel="gen0")
    readable = S3PortStore.readable
    raced = []

    def publish_in_between(self, key: str, entry: snapshots.FileEntry):
        if not raced:  # the reader has the first manifest; now a publish and retention remove that snapshot
            raced.append(key)
            monkeypatch.setenv("MESH_PORT_RETENTION", "1")
            publish_orders(mesh, 20, run_id="run-2", channel="gen1")
        return readable(self, key, entry)

    monkeypatch.setattr(S3PortStore, "readable", publish_in_between)
    assert read_orders(mesh)[0][:3] == (20, 1, "gen1")
    assert raced and len(snapshots.snapshot_ids("sales", "orders", 1)) == 1


def test_readers_during_repeated_publishes_to_s3_never_see_a_partial_or_mixed_snapshot(mesh, monkeypatch):
    monkeypatch.setenv("MESH_PORT_RETENTION", "2")  # retention deletes snapshots while readers resolve them
    rows = {0: 2000}
    publish_orders(mesh, rows[0], channel="gen0")
    errors: list[str] = []
    reads: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                ((count, channels, channel, total),) = read_orders(mesh)
            except Exception as exc:  # any failure to read a published port is a failure
                errors.append(repr(exc))
                continue
            generation = int(channel.removeprefix("gen"))
            n = rows[generation]
            if (count, channels, total) != (n, 1, n * (n - 1) // 2):
                errors.append(f"gen{generation}: {count} rows over {channels} generation(s), expected {n}")
            reads.append(generation)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 9):
            rows[i] = 2000 + 300 * i  # each publish has its own row count and marker
            publish_orders(mesh, rows[i], run_id=f"run-{i}", channel=f"gen{i}")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert len(set(reads)) >= 3, f"the readers saw too few publishes to prove anything: {sorted(set(reads))}"
    assert read_orders(mesh)[0][2] == "gen8"
    assert len(snapshots.snapshot_ids("sales", "orders", 1)) == 2


def test_a_publish_to_s3_that_fails_midway_leaves_latest_on_the_previous_snapshot(mesh, monkeypatch, s3_ports):
    first = publish_orders(mesh, 10)
    put_file = S3PortStore.put_file

    def dies_before_the_manifest(self, key: str, source: Path) -> None:
        if key.endswith(snapshots.MANIFEST):
            raise RuntimeError("connection reset while uploading the manifest")
        put_file(self, key, source)

    monkeypatch.setattr(S3PortStore, "put_file", dies_before_the_manifest)
    with pytest.raises(PublishError, match="connection reset"):
        publish_orders(mesh, 20, run_id="run-2")
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id
    assert snapshots.snapshot_ids("sales", "orders", 1) == [first.snapshot_id]
    # The failed publish removed the data files it had uploaded.
    assert {k.split("/")[3] for k in s3_ports.keys("sales/orders/v1/") if k.count("/") == 4} == {first.snapshot_id}
    assert read_orders(mesh)[0][0] == 10


def test_a_publish_killed_after_uploading_data_leaves_an_invisible_orphan_that_retention_removes(
    mesh, monkeypatch, s3_ports
):
    first = publish_orders(mesh, 10)
    put_file = S3PortStore.put_file

    def killed(self, key: str, source: Path) -> None:
        if key.endswith(snapshots.MANIFEST):
            raise KeyboardInterrupt  # stands in for SIGKILL: no cleanup runs below
        put_file(self, key, source)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(S3PortStore, "put_file", killed)
        patch.setattr(S3PortStore, "discard", lambda self, staging, version, snapshot_id: None)
        publish_orders(mesh, 20, run_id="run-2")
    orphans = {k.split("/")[3] for k in s3_ports.keys("sales/orders/v1/") if k.count("/") == 4} - {first.snapshot_id}
    (orphan,) = orphans
    assert s3_ports.keys(f"sales/orders/v1/{orphan}/") == [
        f"sales/orders/v1/{orphan}/_contract.odcs.yaml",
        f"sales/orders/v1/{orphan}/data_0.parquet",
    ]
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id
    assert snapshots.snapshot_ids("sales", "orders", 1) == [first.snapshot_id]  # no manifest: never a snapshot
    assert read_orders(mesh)[0][0] == 10
    # A fresh orphan may be a publish still uploading: retention leaves it alone for an hour.
    snapshots.apply_retention("sales/orders/v1", keep=5)
    assert s3_ports.keys(f"sales/orders/v1/{orphan}/")
    snapshots.apply_retention("sales/orders/v1", keep=5, orphan_age=timedelta(0))
    assert s3_ports.keys(f"sales/orders/v1/{orphan}/") == []
    assert snapshots.snapshot_ids("sales", "orders", 1) == [first.snapshot_id]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda data: data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1 :],
            "does not match its checksum",
        ),
        (lambda data: data[:100], "has 100 bytes, the manifest says"),
    ],
    ids=["same-size-corruption", "truncation"],
)
def test_a_damaged_object_is_refused_by_the_reader_and_by_verify(mesh, s3_ports, damage, message):
    manifest = publish_orders(mesh, 500)
    key = f"sales/orders/v1/{manifest.snapshot_id}/data_0.parquet"
    data = s3_ports.get(key)
    s3_ports.put(key, damage(data))
    assert len(s3_ports.get(key)) == (len(data) if "checksum" in message else 100)
    with pytest.raises(PortAccessError, match=message):
        read_orders(mesh)
    assert audit.entries("port.read") == []  # nobody was handed the data
    assert not list(settings.port_cache_dir().rglob("*.parquet")), "a damaged file must not enter the cache"
    assert any(message in p for p in snapshots.verify(manifest))


def test_a_cached_copy_altered_in_place_is_never_read_and_is_fetched_again(mesh):
    manifest = publish_orders(mesh, 500)
    good = read_orders(mesh)
    sha = manifest.files[0].sha256
    cached = settings.port_cache_dir() / sha[:2] / f"{sha}.parquet"
    original = cached.read_bytes()
    st = cached.stat()
    with cached.open("r+b") as f:  # 16 bytes flipped in place: same size, inode and (restored) mtime
        f.seek(st.st_size // 2)
        f.write(bytes(b ^ 0xFF for b in original[st.st_size // 2 : st.st_size // 2 + 16]))
    os.utime(cached, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert read_orders(mesh) == good  # the damaged copy was evicted and the object verified again
    assert cached.read_bytes() == original


def test_retention_on_s3_keeps_the_newest_snapshots_and_deletes_the_rest(mesh, monkeypatch, s3_ports):
    monkeypatch.setenv("MESH_PORT_RETENTION", "2")
    ids = [publish_orders(mesh, 3, run_id=f"run-{i}").snapshot_id for i in range(4)]
    assert snapshots.snapshot_ids("sales", "orders", 1) == ids[-2:]
    assert snapshots.latest_snapshot("sales", "orders", 1) == ids[-1]
    assert {k.split("/")[3] for k in s3_ports.keys("sales/orders/v1/") if k.count("/") == 4} == set(ids[-2:])


def test_retention_by_age_purges_old_snapshots_and_rows_on_s3(mesh, s3_ports):
    product = mesh.product("customers/customer_profiles")  # retention: 1095d
    with warehouse.connect("customers") as con:
        con.execute(TABLE)
        ids = [publish.publish(con, product, "customer_profiles", f"r{i}").manifests[0].snapshot_id for i in range(3)]
    removed = retention.purge(mesh, now=datetime.now(UTC) + timedelta(days=4 * 365))
    assert removed["customers/customer_profiles"][:2] == [f"customers/customer_profiles@v1/{i}" for i in ids[:2]]
    assert snapshots.snapshot_ids("customers", "customer_profiles", 1) == [ids[2]]
    assert not s3_ports.keys(f"customers/customer_profiles/v1/{ids[0]}/")


def test_deleting_rows_rewrites_an_s3_snapshot_and_evicts_the_old_copy_from_the_cache(mesh, s3_ports):
    manifest = publish_orders(mesh, 100)
    assert read_orders(mesh)[0][0] == 100  # the old file is now in the cache
    old = manifest.files[0]
    con = duckdb.connect()
    assert snapshots.delete_rows(con, manifest, "customer_id = ?", [3]) == 14
    updated = snapshots.read_manifest("sales", "orders", 1, manifest.snapshot_id)
    assert updated.row_count == 86 and updated.files[0].sha256 != old.sha256
    assert s3_ports.keys(f"sales/orders/v1/{manifest.snapshot_id}/") == [
        f"sales/orders/v1/{manifest.snapshot_id}/_contract.odcs.yaml",
        f"sales/orders/v1/{manifest.snapshot_id}/_manifest.json",
        f"sales/orders/v1/{manifest.snapshot_id}/{updated.files[0].path}",
    ]
    assert not list(settings.port_cache_dir().rglob(f"{old.sha256}*"))
    assert read_orders(mesh)[0][0] == 86
    assert snapshots.verify(updated) == []


def test_mesh_ports_list_and_verify_work_against_s3(mesh, s3_ports):
    manifest = publish_orders(mesh, 25)
    listed = {row["port"]: row for row in json.loads(mesh_cli("ports", "list", "--json").stdout)}
    assert listed["sales/orders@v1"]["snapshot"] == manifest.snapshot_id
    assert listed["sales/orders@v1"]["rows"] == 25
    verified = mesh_cli("ports", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["store"] == s3_ports.url and report["ports"]["sales/orders@v1"] == []

    key = f"sales/orders/v1/{manifest.snapshot_id}/data_0.parquet"
    data = bytearray(s3_ports.get(key))
    data[len(data) // 2] ^= 0xFF
    s3_ports.put(key, bytes(data))
    verified = mesh_cli("ports", "verify")
    assert verified.returncode == 1
    assert f"s3://{s3_ports.name}/ports/{key} does not match its checksum" in verified.stdout


def test_a_port_view_over_s3_data_is_readable_from_another_process_as_dbt_reads_it(mesh, mesh_home, tmp_path):
    """dbt queries the consumer's port views from its own process: they must not need this one."""
    publish_orders(mesh, 321)
    with warehouse.connect("finance") as con:  # what PortReader.expose_inputs does for each input
        resolved = PortReader(mesh, mesh.product("finance/daily_revenue"), con).resolve("sales/orders")
        con.execute("CREATE SCHEMA port_sales")
        con.execute(f"CREATE VIEW port_sales.orders_v1 AS SELECT * FROM {resolved.sql()}")
    query = "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True).sql(sys.argv[2]).fetchall())"
    result = subprocess.run(
        [sys.executable, "-c", query, str(warehouse.path("finance")), "SELECT count(*) FROM port_sales.orders_v1"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},  # no S3 settings or credentials: the files are local
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[(321,)]"


@pytest.mark.slow
def test_two_domains_build_through_dagster_with_their_ports_on_s3(mesh_home, s3_ports: Bucket):
    """customers publishes; support's contract gate reads it through the port reader; all in the bucket."""
    result = mesh_cli("build", "--orders", "300", "--domain", "customers", "--domain", "support", "--json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = {row["port"]: row for row in json.loads(result.stdout)["ports"]}
    # Only the two domains built, both published by this build (not "7 ports published").
    assert set(summary) == {"customers/customer_profiles@v1", "support/tickets@v1"}
    assert all(row["published_now"] for row in summary.values())
    tickets = summary["support/tickets@v1"]
    assert tickets["rows"] and summary["customers/customer_profiles@v1"]["rows"]
    latest = s3_ports.get("support/tickets/v1/latest").decode().strip()
    assert latest == tickets["snapshot"]
    manifest = json.loads(s3_ports.get(f"support/tickets/v1/{latest}/_manifest.json"))
    assert manifest["row_count"] == tickets["rows"]
    assert not (mesh_home / "ports").exists(), "nothing may be published to the local folder"
    assert not list((mesh_home / "tmp" / "ports").rglob("*.parquet")), "staged files are removed after upload"
    reads = [e for e in audit.entries("port.read") if e["action"] == "port.read" and e["consumer"] == "support/tickets"]
    assert reads and reads[-1]["port"] == "customers/customer_profiles@v1"
    assert reads[-1]["snapshot"] == summary["customers/customer_profiles@v1"]["snapshot"]


PUBLISHER = """
from meshwork.ports import publish
from meshwork.storage import warehouse
from meshwork.model.loader import load_mesh

mesh = load_mesh()
with warehouse.connect("sales") as con:
    con.execute('''CREATE OR REPLACE TABLE orders AS SELECT range AS order_id, range % 7 AS customer_id,
        TIMESTAMP '2025-01-01' + to_seconds(range) AS order_ts, 'completed' AS status, 'EMEA' AS region,
        'EUR' AS currency, md5(range::VARCHAR) AS channel FROM range(300000)''')
    customers = lambda key: "(SELECT range AS customer_id FROM range(7))"
    for i in range(1000):
        publish.publish(con, mesh.product("sales/orders"), "orders", f"run-{i}", customers)
        print("published", flush=True)
"""


@pytest.mark.slow
def test_kill_9_while_publishing_to_s3_never_exposes_a_partial_snapshot(mesh, s3_ports):
    import random
    import signal
    import time

    rng = random.Random(11)
    for attempt in range(int(os.environ.get("MESH_TEST_KILLS", "3"))):
        proc = subprocess.Popen([sys.executable, "-c", PUBLISHER], stdout=subprocess.PIPE, env=dict(os.environ))
        assert proc.stdout and proc.stdout.readline().strip() == b"published"  # `latest` exists from here on
        time.sleep(rng.uniform(0.0, 1.5))  # then die somewhere in a later publish
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        latest = snapshots.latest_snapshot("sales", "orders", 1)
        assert latest is not None
        manifest = snapshots.read_manifest("sales", "orders", 1, latest)
        assert manifest.row_count == 300_000 and snapshots.verify(manifest) == [], attempt
        for snapshot in snapshots.snapshot_ids("sales", "orders", 1):  # every complete snapshot is whole
            assert snapshots.verify(snapshots.read_manifest("sales", "orders", 1, snapshot)) == [], (attempt, snapshot)
        assert read_orders(mesh)[0][:2] == (300_000, 300_000), attempt
