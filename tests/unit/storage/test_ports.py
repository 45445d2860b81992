"""Output ports: atomic publish, `latest` survives a failed publish, retention, reads only via grants of inputs."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit
from meshwork.core.errors import ContractViolation, PortAccessError, PublishError
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.ports.reader import PortReader
from meshwork.storage import snapshots, warehouse

ORDERS_SQL = """
    CREATE OR REPLACE TABLE orders AS
    SELECT range AS order_id, range % 7 AS customer_id, TIMESTAMP '2025-01-01' + to_seconds(range) AS order_ts,
           'completed' AS status, 'EMEA' AS region, 'EUR' AS currency, 'web' AS channel
    FROM range({n})
"""


@pytest.fixture
def mesh(project: Path):
    return load_mesh(project)


def build_orders(n: int) -> None:
    with warehouse.connect("sales") as con:
        con.execute(ORDERS_SQL.format(n=n))


def publish_orders(mesh, run_id: str = "run-1"):
    with warehouse.connect("sales") as con:
        # The orders contract checks every customer_id against the customers port.
        customers = "(SELECT range AS customer_id FROM range(7))"
        return publish.publish(con, mesh.product("sales/orders"), "orders", run_id, lambda key: customers)


def test_publish_writes_an_immutable_snapshot_with_manifest_and_latest(mesh):
    build_orders(1000)
    outcome = publish_orders(mesh)
    (manifest,) = outcome.manifests
    assert snapshots.latest_snapshot("sales", "orders", 1) == manifest.snapshot_id
    assert manifest.row_count == 1000
    assert [c.name for c in manifest.columns] == [
        c.name for c in mesh.product("sales/orders").current_port.contract.columns
    ]
    assert snapshots.verify(manifest) == []
    files = snapshots.snapshot_files(manifest)
    con = duckdb.connect()  # not the default connection: a mutation run forks the test process
    assert con.execute(f"SELECT count(*) FROM read_parquet({[str(f) for f in files]})").fetchall() == [(1000,)]


def test_a_publish_that_dies_midway_leaves_latest_on_the_previous_snapshot(mesh, monkeypatch):
    build_orders(10)
    first = publish_orders(mesh).manifests[0]
    build_orders(20)

    def boom(path: Path) -> str:  # the data file is written, then the process "dies"
        raise RuntimeError("killed while checksumming")

    monkeypatch.setattr(snapshots, "_sha256", boom)
    with pytest.raises(PublishError, match="killed while checksumming"):
        publish_orders(mesh, run_id="run-2")
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id
    root = snapshots.version_dir("sales", "orders", 1)
    assert snapshots.snapshots(root) == [first.snapshot_id]
    assert not list(root.glob(".tmp-*")), "the half-written snapshot must be cleaned up"
    assert snapshots.read_manifest("sales", "orders", 1, first.snapshot_id).row_count == 10


def test_a_contract_column_missing_from_the_data_publishes_nothing(mesh):
    build_orders(10)
    first = publish_orders(mesh).manifests[0]
    with warehouse.connect("sales") as con:
        con.execute("ALTER TABLE orders DROP COLUMN channel")
    with pytest.raises(ContractViolation) as exc:
        publish_orders(mesh, run_id="run-2")
    assert "sales/orders@v1" in str(exc.value) and "column 'channel' is present" in str(exc.value)
    assert "missing from the produced data" in str(exc.value)
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id


def test_a_column_of_the_wrong_type_publishes_nothing(mesh):
    build_orders(10)
    with warehouse.connect("sales") as con:
        con.execute("ALTER TABLE orders ALTER COLUMN customer_id TYPE VARCHAR")
    with pytest.raises(ContractViolation, match="column 'customer_id' is present as BIGINT \(it is VARCHAR\)"):
        publish_orders(mesh)
    assert snapshots.latest_snapshot("sales", "orders", 1) is None


def test_readers_never_see_a_partial_snapshot_while_publishes_run(mesh):
    build_orders(5000)
    publish_orders(mesh)
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        con = duckdb.connect()
        reads = 0
        while not stop.is_set() or reads == 0:
            try:
                snap = snapshots.latest_snapshot("sales", "orders", 1)
                manifest = snapshots.read_manifest("sales", "orders", 1, snap)
                files = [str(f) for f in snapshots.snapshot_files(manifest)]
                n = con.execute(f"SELECT count(*) FROM read_parquet({files})").fetchone()[0]
            except duckdb.IOException as exc:  # retention removed an old snapshot between resolve and read
                if "No files found" in str(exc) or "No such file" in str(exc):
                    continue
                errors.append(f"read failed: {exc!r}")
                return
            except BaseException as exc:  # anything else (an empty pointer, a missing manifest) is a failure
                errors.append(f"read failed: {exc!r}")
                return
            reads += 1
            if n != manifest.row_count:
                errors.append(f"{snap}: read {n} rows, manifest says {manifest.row_count}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(8):
            publish_orders(mesh, run_id=f"run-{i}")
    finally:
        stop.set()
        thread.join()
    assert errors == []


def test_retention_keeps_the_newest_snapshots(mesh, monkeypatch):
    monkeypatch.setenv("MESH_PORT_RETENTION", "2")
    build_orders(3)
    ids = [publish_orders(mesh, run_id=f"run-{i}").manifests[0].snapshot_id for i in range(4)]
    assert snapshots.snapshots(snapshots.version_dir("sales", "orders", 1)) == ids[-2:]
    assert snapshots.latest_snapshot("sales", "orders", 1) == ids[-1]


def test_the_reader_gives_a_declared_input_as_a_relation_and_audits_the_read(mesh):
    build_orders(42)
    snapshot = publish_orders(mesh).manifests[0].snapshot_id
    con = duckdb.connect()
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), con, run_id="r")
    assert reader.relation("sales/orders").aggregate("count(*)").fetchall() == [(42,)]
    (entry,) = audit.entries("port.read")
    assert entry["consumer"] == "finance/daily_revenue" and entry["port"] == "sales/orders@v1"
    assert entry["snapshot"] == snapshot


def test_the_reader_refuses_a_port_the_consumer_did_not_declare(mesh):
    build_orders(1)
    publish_orders(mesh)
    reader = PortReader(mesh, mesh.product("support/tickets"), duckdb.connect())
    with pytest.raises(PortAccessError, match="support/tickets may not read 'sales/orders'"):
        reader.relation("sales/orders")
    assert audit.entries("port.read.refused")[0]["consumer"] == "support/tickets"


def test_the_reader_refuses_a_snapshot_whose_files_were_truncated(mesh):
    build_orders(100)
    manifest = publish_orders(mesh).manifests[0]
    file = snapshots.snapshot_files(manifest)[0]
    file.write_bytes(file.read_bytes()[:100])
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect())
    with pytest.raises(PortAccessError, match="is damaged"):
        reader.relation("sales/orders")


def test_verify_detects_a_corrupted_file_with_the_same_size(mesh):
    build_orders(100)
    manifest = publish_orders(mesh).manifests[0]
    file = snapshots.snapshot_files(manifest)[0]
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    assert any("checksum" in p for p in snapshots.verify(manifest))


def test_the_reader_refuses_a_same_size_corruption_even_after_an_earlier_good_read(mesh):
    build_orders(100)
    manifest = publish_orders(mesh).manifests[0]
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect())
    assert reader.relation("sales/orders").aggregate("count(*)").fetchall() == [(100,)]  # verified once
    file = snapshots.snapshot_files(manifest)[0]
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))  # same size, new mtime: the earlier verification no longer counts
    with pytest.raises(PortAccessError, match="does not match its checksum"):
        PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect()).relation("sales/orders")
    assert audit.entries("port.read")[-1]["snapshot"] == manifest.snapshot_id  # only the good read was recorded
    assert len(audit.entries("port.read")) == 1
