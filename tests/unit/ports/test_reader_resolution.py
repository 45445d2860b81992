"""What the port reader resolves and hands a consumer: a snapshot of several files read whole, paths
with quotes, the run recorded with each read, the run's own staged snapshots for a product of the same
domain, and the views dbt reads (one per declared input, named after the port)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit
from meshwork.core.errors import PortAccessError
from meshwork.model.loader import load_mesh
from meshwork.ports.reader import PortReader, ResolvedPort, port_view_name
from meshwork.storage import snapshots
from tests.unit.ports.test_masking import mesh as profiles_mesh  # noqa: F401 (a fixture)
from tests.unit.storage.test_ports import build_orders, publish_orders

LINES = """CREATE OR REPLACE TABLE order_lines AS SELECT order_id, 1::INTEGER AS line_no, 'sku' AS sku,
    2::INTEGER AS quantity, 5.00::DECIMAL(12,2) AS unit_price, 10.00::DECIMAL(14,2) AS line_amount FROM orders"""


@pytest.fixture
def mesh(project: Path):
    return load_mesh(project)


def reads() -> list[dict]:
    return [e for e in audit.entries("port.read") if e["action"] == "port.read"]


def stage_customer_360(rows: int) -> snapshots.Manifest:
    """A snapshot of marketing/customer_360 written the way a run stages it: `latest` not moved."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE c360 AS SELECT range AS customer_id, 'seg' AS segment FROM range({rows})")
    return snapshots.write_snapshot(
        con,
        domain="marketing",
        product="customer_360",
        major=1,
        table="c360",
        columns=["customer_id", "segment"],
        contract_id="marketing.customer_360",
        contract_version="1.0.0",
        run_id="run-staged",
        commit_latest=lambda version, snapshot_id: None,
    )


def test_a_snapshot_split_into_several_files_is_read_whole(tmp_path: Path, mesh):
    build_orders(3)
    manifest = publish_orders(mesh).manifests[0]
    con = duckdb.connect()
    parts = []
    for i, (low, high) in enumerate([(0, 4), (4, 10)]):
        part = tmp_path / f"data_{i}.parquet"
        con.execute(f"COPY (SELECT range AS id FROM range({low}, {high})) TO '{part}' (FORMAT parquet)")
        parts.append(part)
    resolved = ResolvedPort("sales/orders@v1", manifest.snapshot_id, manifest, parts)
    assert con.sql(f"SELECT count(*), sum(id) FROM {resolved.sql()}").fetchall() == [(10, 45)]


def test_a_mesh_home_whose_path_holds_a_quote_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: Path):
    home = tmp_path / "o'hara's mesh"
    (home / "dagster").mkdir(parents=True)
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    mesh = load_mesh(project)
    build_orders(12)
    publish_orders(mesh)
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect())
    assert "o''hara''s mesh" in reader.resolve("sales/orders").sql()
    assert reader.relation("sales/orders").aggregate("count(*)").fetchall() == [(12,)]


def test_every_read_is_recorded_with_its_run_and_kept_on_the_reader(mesh):
    build_orders(5)
    snapshot = publish_orders(mesh).manifests[0].snapshot_id
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect(), run_id="run-42")
    resolved = reader.resolve("sales/orders")
    (entry,) = reads()
    assert entry["run_id"] == "run-42" and entry["snapshot"] == snapshot and entry["masked"] is False
    assert reader.reads == [resolved] and resolved.snapshot_id == snapshot and not resolved.masked


def test_a_product_reads_the_snapshot_its_own_run_staged_for_its_domain(mesh):
    staged = stage_customer_360(9)
    assert snapshots.latest_snapshot("marketing", "customer_360", 1) is None  # nothing published yet
    con = duckdb.connect()
    reader = PortReader(mesh, mesh.product("marketing/customer_segments"), con, run_id="run-staged")
    with pytest.raises(PortAccessError, match="has no published snapshot yet"):
        reader.resolve("marketing/customer_360")  # without the run's staged set: the published one, none
    reader.staged = {("marketing/customer_360", 1): staged.snapshot_id}
    resolved = reader.resolve("marketing/customer_360")
    assert resolved.snapshot_id == staged.snapshot_id and resolved.ref == "marketing/customer_360@v1"
    assert con.sql(f"SELECT count(*) FROM {resolved.sql()}").fetchall() == [(9,)]
    (entry,) = reads()
    assert entry["consumer"] == "marketing/customer_segments" and entry["snapshot"] == staged.snapshot_id
    assert entry["port"] == "marketing/customer_360@v1" and resolved.manifest == staged
    assert entry["run_id"] == "run-staged"
    assert reader.reads == [resolved]


def test_a_staged_snapshot_that_is_damaged_is_refused(mesh):
    staged = stage_customer_360(9)
    file = snapshots.version_dir("marketing", "customer_360", 1) / staged.snapshot_id / staged.files[0].path
    file.write_bytes(file.read_bytes()[:-10])
    reader = PortReader(mesh, mesh.product("marketing/customer_segments"), duckdb.connect())
    reader.staged = {("marketing/customer_360", 1): staged.snapshot_id}
    with pytest.raises(PortAccessError, match=r"marketing/customer_360@v1 snapshot .* is damaged: .*bytes"):
        reader.resolve("marketing/customer_360")
    assert reads() == []


def test_a_staged_snapshot_is_not_used_for_another_domains_port_nor_for_an_undeclared_one(mesh):
    build_orders(4)
    published = publish_orders(mesh).manifests[0].snapshot_id
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect())
    # A staged id of another domain's product is not this run's to read: the published snapshot is.
    reader.staged = {("sales/orders", 1): "20990101T000000000000Z-other"}
    assert reader.resolve("sales/orders").snapshot_id == published
    other = PortReader(mesh, mesh.product("support/tickets"), duckdb.connect())
    other.staged = {("sales/orders", 1): published}
    with pytest.raises(PortAccessError, match="not declared in inputPorts"):
        other.resolve("sales/orders")


def test_each_declared_input_becomes_a_view_named_after_its_port(mesh):
    build_orders(6)
    publish_orders(mesh)
    con = duckdb.connect()
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), con)
    with pytest.raises(PortAccessError, match="sales/order_lines@v1 has no published snapshot yet"):
        reader.expose_inputs()  # every input must be there: order_lines is not published
    from meshwork.ports import publish
    from meshwork.storage import warehouse

    with warehouse.connect("sales") as wh:
        wh.execute(LINES)
        publish.publish(wh, mesh.product("sales/order_lines"), "order_lines", "run-1", lambda key: "orders")
    resolved = reader.expose_inputs()
    assert [r.ref for r in resolved] == ["sales/orders@v1", "sales/order_lines@v1"]
    assert con.sql('SELECT count(*) FROM "port_sales"."orders_v1"').fetchall() == [(6,)]
    assert con.sql('SELECT count(*) FROM "port_sales"."order_lines_v1"').fetchall() == [(6,)]
    reader.expose_inputs()  # a second time (a retried step) replaces the views
    assert con.sql('SELECT count(*) FROM "port_sales"."orders_v1"').fetchall() == [(6,)]


def test_the_view_name_of_a_port_is_its_schema_and_versioned_name():
    assert port_view_name("sales", "orders", 1) == ("port_sales", "orders_v1")
    assert port_view_name("marketing", "customer_360", 12) == ("port_marketing", "customer_360_v12")
    with pytest.raises(ValueError, match="is not a valid name"):
        port_view_name('sales"; DROP', "orders", 1)
    with pytest.raises(ValueError, match="is not a valid name"):
        port_view_name("sales", "orders x", 1)


def _profiles_read(mesh, run_id: str):
    reader = PortReader(mesh, mesh.product("sales/orders"), duckdb.connect(), run_id=run_id)  # no PII clearance
    return reader, reader.resolve("customers/customer_profiles")


def test_what_an_uncleared_read_hands_back_names_the_port_the_snapshot_and_its_masked_files(profiles_mesh):  # noqa: F811
    latest = snapshots.latest_snapshot("customers", "customer_profiles", 1)
    assert latest
    manifest = snapshots.read_manifest("customers", "customer_profiles", 1, latest)
    reader, resolved = _profiles_read(profiles_mesh, "run-m")
    assert (resolved.ref, resolved.snapshot_id, resolved.manifest) == (
        "customers/customer_profiles@v1",
        latest,
        manifest,
    )
    assert resolved.masked is True and resolved.masked_with is None and reader.reads == [resolved]
    entry = reads()[-1]
    assert entry["masked"] is True and entry["run_id"] == "run-m" and entry["snapshot"] == latest


def test_a_snapshot_without_its_masked_variant_is_masked_at_read_and_says_so(profiles_mesh):  # noqa: F811
    latest = snapshots.latest_snapshot("customers", "customer_profiles", 1)
    assert latest
    with duckdb.connect() as con:  # an erasure rewrite drops the masked variant
        manifest = snapshots.read_manifest("customers", "customer_profiles", 1, latest)
        snapshots.delete_rows(con, manifest, "customer_id = ?", [0])
    rewritten = snapshots.read_manifest("customers", "customer_profiles", 1, latest)
    reader, resolved = _profiles_read(profiles_mesh, "run-e")
    assert (resolved.ref, resolved.snapshot_id, resolved.manifest) == (
        "customers/customer_profiles@v1",
        latest,
        rewritten,
    )
    assert resolved.masked is True
    assert resolved.masked_with is profiles_mesh.product("customers/customer_profiles").current_port.contract
    entry = reads()[-1]
    assert entry["masked"] is True and entry["run_id"] == "run-e"


def test_a_cleared_read_hands_back_the_manifest_it_resolved(mesh):
    build_orders(5)
    manifest = publish_orders(mesh).manifests[0]
    resolved = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect()).resolve("sales/orders")
    assert resolved.manifest == manifest and resolved.ref == "sales/orders@v1"
