"""What the port reader refuses, and says why: a damaged pointer, manifest or masked variant, a
private port of another domain; and what it allows without a grant: a port of the consumer's own domain."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit
from meshwork.core.errors import PortAccessError
from meshwork.model.loader import load_mesh
from meshwork.ports.reader import PortReader
from meshwork.storage import snapshots
from tests.unit.ports.test_masking import mesh as profiles_mesh  # noqa: F401 (a fixture)
from tests.unit.storage.test_ports import build_orders, publish_orders


@pytest.fixture
def mesh(project: Path):
    return load_mesh(project)


def reads() -> list[dict]:
    return [e for e in audit.entries("port.read") if e["action"] == "port.read"]


def revenue_reader(mesh) -> PortReader:
    return PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect())


def test_a_pointer_that_holds_no_snapshot_id_is_a_damaged_port(mesh):
    build_orders(3)
    publish_orders(mesh)
    (snapshots.version_dir("sales", "orders", 1) / snapshots.LATEST).write_text("../../../etc\n")
    with pytest.raises(PortAccessError, match=r"^sales/orders@v1 is damaged: .*latest holds '\.\./\.\./\.\./etc'"):
        revenue_reader(mesh).resolve("sales/orders")
    assert reads() == []


def test_a_pointer_to_a_snapshot_whose_manifest_is_gone_is_a_damaged_port(mesh):
    build_orders(3)
    manifest = publish_orders(mesh).manifests[0]
    (snapshots.version_dir("sales", "orders", 1) / manifest.snapshot_id / snapshots.MANIFEST).unlink()
    with pytest.raises(PortAccessError, match=r"^sales/orders@v1 is damaged: .*_manifest.json does not exist"):
        revenue_reader(mesh).resolve("sales/orders")
    assert reads() == []


def test_a_port_never_published_names_the_domain_to_build_first(mesh):
    with pytest.raises(
        PortAccessError, match=r"^sales/orders@v1 has no published snapshot yet; build sales before finance$"
    ):
        revenue_reader(mesh).resolve("sales/orders")


def test_a_damaged_masked_variant_is_refused_to_an_uncleared_consumer_only(profiles_mesh):  # noqa: F811
    latest = snapshots.latest_snapshot("customers", "customer_profiles", 1)
    assert latest
    manifest = snapshots.read_manifest("customers", "customer_profiles", 1, latest)
    assert manifest.masked
    masked_file = snapshots.version_dir("customers", "customer_profiles", 1) / latest / manifest.masked[0].path
    masked_file.write_bytes(masked_file.read_bytes()[:-8])
    uncleared = PortReader(profiles_mesh, profiles_mesh.product("sales/orders"), duckdb.connect())
    with pytest.raises(
        PortAccessError, match=rf"^customers/customer_profiles@v1 snapshot {latest} is damaged: .*masked_data_0"
    ):
        uncleared.resolve("customers/customer_profiles")
    assert reads() == []
    # The clear files are intact: a consumer cleared for PII still reads them.
    cleared = PortReader(profiles_mesh, profiles_mesh.product("marketing/customer_360"), duckdb.connect())
    assert cleared.relation("customers/customer_profiles").aggregate("count(*)").fetchall() == [(20,)]


def test_a_private_port_is_refused_to_another_domain_with_the_reason_recorded(project: Path):
    descriptor = project / "domains/sales/products/orders.yaml"
    public, private = "{property: visibility, value: public}", "{property: visibility, value: private}"
    descriptor.write_text(descriptor.read_text().replace(public, private))
    # The loader already names finance a broken domain for it; the reader refuses on its own too
    # (a mesh loaded leniently, as code locations load it, still holds the product).
    mesh = load_mesh(project, strict=False)
    assert "finance" in mesh.broken
    assert mesh.product("sales/orders").current_port.visibility.value == "private"
    build_orders(3)
    publish_orders(mesh)
    with pytest.raises(
        PortAccessError,
        match=r"^finance/daily_revenue may not read sales/orders@v1: the port is private and there is no valid grant",
    ):
        PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect(), run_id="r9").resolve("sales/orders")
    (refused,) = audit.entries("port.read.refused")
    assert refused["consumer"] == "finance/daily_revenue" and refused["port"] == "sales/orders@v1"
    assert refused["reason"] == "no valid grant on a private port" and refused["run_id"] == "r9"
    assert reads() == []


def test_a_restricted_port_is_read_in_the_clear_by_its_own_domain_without_a_grant(mesh):
    port = mesh.product("marketing/customer_360").current_port
    assert port.visibility.value == "restricted"
    assert mesh.grant_at_read("marketing/customer_segments", port) is None
    con = duckdb.connect()
    con.execute("CREATE TABLE c360 AS SELECT range AS customer_id, 'x@y.org' AS email FROM range(4)")
    snapshots.write_snapshot(
        con,
        domain="marketing",
        product="customer_360",
        major=1,
        table="c360",
        columns=["customer_id", "email"],
        contract_id="marketing.customer_360",
        contract_version="1.0.0",
        run_id="r",
    )
    reader = PortReader(mesh, mesh.product("marketing/customer_segments"), con)
    resolved = reader.resolve("marketing/customer_360")
    assert not resolved.masked and resolved.masked_with is None
    assert con.sql(f"SELECT count(*) FROM {resolved.sql()}").fetchall() == [(4,)]
    assert reads()[-1]["masked"] is False


def test_an_undeclared_read_is_refused_and_recorded_with_its_run(mesh):
    build_orders(1)
    publish_orders(mesh)
    reader = PortReader(mesh, mesh.product("support/tickets"), duckdb.connect(), run_id="r7")
    with pytest.raises(
        PortAccessError, match=r"^support/tickets may not read 'sales/orders': it is not declared in inputPorts of "
    ):
        reader.resolve("sales/orders")
    (refused,) = audit.entries("port.read.refused")
    assert refused["port"] == "sales/orders" and refused["run_id"] == "r7" and refused["reason"] == "undeclared input"
    assert reader.reads == []


def test_an_input_whose_producer_did_not_load_is_refused_as_missing(project: Path):
    # A code location loads the mesh leniently: a product whose descriptor fails is left out, and its
    # consumers stay (their domain is named broken). Reading it says the port does not exist.
    (project / "domains/sales/products/orders.yaml").write_text("kind: [unclosed\n")
    mesh = load_mesh(project, strict=False)
    assert "sales/orders" not in mesh.products and "finance/daily_revenue" in mesh.products
    with pytest.raises(PortAccessError, match=r"^finance/daily_revenue reads sales/orders@v1, which does not exist$"):
        revenue_reader(mesh).resolve("sales/orders")
    assert reads() == []


def test_an_input_pinned_to_a_major_the_producer_does_not_have_is_refused_as_missing(project: Path):
    descriptor = project / "domains/finance/products/daily_revenue.yaml"
    pinned = "{name: orders, version: v1, contractId: sales.orders}"
    descriptor.write_text(descriptor.read_text().replace(pinned, pinned.replace("v1", "v2")))
    mesh = load_mesh(project, strict=False)
    assert "finance" in mesh.broken and "sales/orders" in mesh.products
    with pytest.raises(PortAccessError, match=r"^finance/daily_revenue reads sales/orders@v2, which does not exist$"):
        revenue_reader(mesh).resolve("sales/orders")


def test_every_damaged_file_of_a_snapshot_is_named_in_the_refusal(mesh):
    build_orders(30)
    manifest = publish_orders(mesh).manifests[0]
    folder = snapshots.version_dir("sales", "orders", 1) / manifest.snapshot_id
    # A snapshot of two files (big ports are split every 256 MB): one truncated, the other gone.
    second = folder / "data_1.parquet"
    second.write_bytes((folder / "data_0.parquet").read_bytes())
    entry = manifest.files[0].model_copy(update={"path": second.name})
    (folder / snapshots.MANIFEST).write_text(
        manifest.model_copy(update={"files": [*manifest.files, entry]}).model_dump_json()
    )
    (folder / "data_0.parquet").write_bytes(b"PAR1")
    second.unlink()
    with pytest.raises(PortAccessError) as refused:
        revenue_reader(mesh).resolve("sales/orders")
    damage = str(refused.value).split(" is damaged: ", 1)[1]
    assert (
        damage
        == f"{folder / 'data_0.parquet'} has 4 bytes, the manifest says {manifest.files[0].bytes}; {second} is missing"
    )
