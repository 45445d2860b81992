"""What `mesh erase` reaches, on small real warehouses and a real published snapshot (no build): the owner
found by its unique key, every downstream product that carries the key, the rows that point at erased
rows through a foreign key (transitively), every retained snapshot, and the certificate and audit entry
that name the subject by a salted hash only. A request that cannot be done changes nothing."""

from __future__ import annotations

import json
import shutil
from datetime import date

import duckdb
import pytest

from meshwork.core import audit, settings
from meshwork.governance import erasure
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.storage import snapshots, warehouse
from tests.conftest import REPO

PROFILES = """CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
    'First' || range AS first_name, 'Last' || range AS last_name, 'person' || range || '@example.com' AS email,
    '+47 555 0' || range AS phone, DATE '1990-01-01' AS birth_date, NULL::VARCHAR AS street, 'Oslo' AS city,
    NULL::VARCHAR AS postcode, 'NO' AS country, TIMESTAMP '2024-01-01' AS created_at FROM range(5)"""


@pytest.fixture
def mesh():
    mesh = load_mesh(REPO, today=date(2027, 6, 1))
    with warehouse.connect("customers") as con:
        con.execute(PROFILES)
        # Two snapshots retained: erasure rewrites both, not only the latest.
        publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "r1")
        publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "r2")
    with warehouse.connect("sales") as con:
        # Customer 3 has orders 30 and 31; customer 4 has order 40.
        con.execute("CREATE TABLE orders AS SELECT * FROM (VALUES (30, 3), (31, 3), (40, 4)) t(order_id, customer_id)")
        con.execute(
            "CREATE TABLE order_lines AS SELECT * FROM (VALUES (30, 1), (30, 2), (31, 1), (40, 1)) t(order_id, line_no)"
        )
    with warehouse.connect("support") as con:
        con.execute("CREATE TABLE tickets AS SELECT * FROM (VALUES ('T-1', 3), ('T-2', 4)) t(ticket_id, customer_id)")
    return mesh


def table(domain: str, name: str, column: str) -> list:
    with warehouse.connect(domain) as con:
        return [r[0] for r in con.execute(f"SELECT {column} FROM {name} ORDER BY ALL").fetchall()]


def snapshot_ids() -> list[str]:
    return list(snapshots.snapshot_ids("customers", "customer_profiles", 1))


def snapshot_customers(snapshot: str) -> list[int]:
    manifest = snapshots.read_manifest("customers", "customer_profiles", 1, snapshot)
    root = settings.mesh_home() / "ports" / "customers" / "customer_profiles" / "v1" / snapshot
    files = [str(root / f.path) for f in manifest.files]
    # A connection of its own, not duckdb's default one: `make mutate` forks this process, and a fork
    # does not carry the default connection's worker threads (its queries would wait for them forever).
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT customer_id FROM read_parquet({files}) ORDER BY 1").fetchall()
    assert manifest.row_count == len(rows)
    return [r[0] for r in rows]


def test_the_plan_finds_the_owner_by_its_unique_key_and_the_holders_downstream(mesh):
    key, value, owner, holders, others = erasure.plan(mesh, "customer_id=3")
    assert (key, value, owner.key) == ("customer_id", "3", "customers/customer_profiles")
    assert holders[0] is owner
    assert {p.key for p in holders} == {
        "customers/customer_profiles",
        "sales/orders",
        "support/tickets",
        "marketing/customer_360",
        "marketing/customer_segments",
    }
    # Downstream products without the key are rebuilt, not erased in place.
    assert {p.key for p in others} == {"finance/daily_revenue"}


def test_a_key_owns_only_where_it_names_one_row_not_where_it_is_part_of_a_composite_key(mesh):
    # order_lines' primary key is (order_id, line_no): an order id names several lines, one order.
    assert erasure.plan(mesh, "order_id=30")[2].key == "sales/orders"
    # The owner's whole primary key, or a unique column, names one row.
    assert erasure.plan(mesh, "email=person3@example.com")[2].key == "customers/customer_profiles"


def test_erasure_removes_the_subject_and_the_rows_pointing_at_it_and_certifies_it(mesh):
    progress: list[str] = []
    cert = erasure.erase(mesh, "customer_id=3", progress=progress.append)

    assert table("customers", "customer_profiles", "customer_id") == [0, 1, 2, 4]
    assert table("sales", "orders", "order_id") == [40]
    assert table("sales", "order_lines", "order_id") == [40]  # the lines of orders 30 and 31, by foreign key
    assert table("support", "tickets", "ticket_id") == ["T-2"]
    assert len(snapshot_ids()) == 2 and all(snapshot_customers(s) == [0, 1, 2, 4] for s in snapshot_ids())

    assert cert.owner_product == "customers/customer_profiles" and cert.subject_key == "customer_id"
    assert cert.warehouses == {
        "customers/customer_profiles": 1,
        "sales/orders": 2,
        "sales/order_lines": 3,
        "support/tickets": 1,
    }
    assert cert.snapshots == {f"customers/customer_profiles@v1/{s}": 1 for s in snapshot_ids()}
    assert cert.holders[0] == "customers/customer_profiles"
    assert {"sales/orders", "sales/order_lines", "support/tickets"} <= set(cert.holders)
    assert cert.rebuilt_domains == ["finance"] and cert.rebuild_failed is False
    assert cert.verified_absent and cert.places and cert.failed_places == []
    # Each retained snapshot is a place of its own, checked after the rewrite.
    for s in snapshot_ids():
        [place] = [p for p in cert.places if p.place == f"customers/customer_profiles@v1/{s}"]
        assert (place.kind, place.result, place.ok) == ("snapshot", "absent", True)
    # Values of 6 characters or more that no one else holds are searched for anywhere; the rest beside
    # their column name only.
    assert cert.searched_as_text == ["email", "first_name", "phone"]
    assert cert.matched_by_column_only == ["birth_date", "last_name"]
    assert "erased customer_id=3 from sales/order_lines (2 order_id value(s) linked to the subject)" in progress

    # The subject is named by a salted hash only, in the certificate and in the audit log.
    written = (settings.mesh_home() / "governance" / "erasures" / f"{cert.id}.json").read_text()
    assert json.loads(written)["subject"] == cert.subject and cert.subject.startswith("hmac-sha256:")
    assert "person3@example.com" not in written
    [entry] = audit.entries("erasure")
    assert entry["subject"] == cert.subject and entry["certificate"] == cert.id
    assert entry["holders"] == cert.holders and entry["snapshots"] == 2 and entry["verified_absent"] is True
    assert entry["places"] == len(cert.places) and entry["not_clean"] == []
    assert "person3@example.com" not in audit.log_path().read_text() and '"3"' not in json.dumps(entry)


def test_the_snapshots_of_a_product_deleted_from_the_mesh_since_are_cleaned_too(mesh):
    # A retained snapshot of a product the mesh no longer has (its descriptor was removed).
    snapshot = snapshot_ids()[0]
    ports = settings.mesh_home() / "ports" / "customers"
    former = ports / "former_profiles" / "v1" / snapshot
    shutil.copytree(ports / "customer_profiles" / "v1" / snapshot, former)
    manifest = json.loads((former / snapshots.MANIFEST).read_text(encoding="utf-8"))
    (former / snapshots.MANIFEST).write_text(json.dumps({**manifest, "product": "former_profiles"}), encoding="utf-8")
    progress: list[str] = []

    cert = erasure.erase(mesh, "customer_id=3", progress=progress.append)

    name = f"customers/former_profiles@v1/{snapshot}"
    assert f"erased 1 row(s) from {name}" in progress
    [place] = [p for p in cert.places if p.place == name]
    assert (place.kind, place.result, place.ok) == ("snapshot", "absent", True)
    assert place.method.startswith("1 row(s) of the subject removed")
    assert name not in cert.snapshots  # not a holder's: the sweep found and cleaned it
    files = [str(former / f["path"]) for f in json.loads((former / snapshots.MANIFEST).read_text())["files"]]
    with duckdb.connect() as con:
        assert con.execute(f"SELECT customer_id FROM read_parquet({files}) ORDER BY 1").fetchall() == [
            (0,),
            (1,),
            (2,),
            (4,),
        ]
    assert cert.verified_absent


def test_the_rebuild_is_asked_for_the_domains_downstream_and_its_failure_recorded(mesh):
    asked: list[list[str]] = []

    def rebuild(domains: list[str]) -> bool:
        asked.append(domains)
        return False

    cert = erasure.erase(mesh, "customer_id=4", rebuild=rebuild, progress=lambda _: None)
    assert asked == [["finance"]] and cert.rebuild_failed is True


@pytest.mark.parametrize(
    ("subject", "error"),
    [
        ("customer_id", "write the subject as <key>=<value>, e.g. customer_id=42"),
        ("customer_id=", "write the subject as <key>=<value>, e.g. customer_id=42"),
        ("region=EU", "no single source-aligned product owns the key 'region' (found: none)"),
        ("customer_id=abc", "'abc' is not a valid BIGINT"),
        ("customer_id=99", "no customer_id=99 in customers/customer_profiles: nothing to erase"),
    ],
    ids=["no-value-sep", "empty-value", "unowned-key", "untyped", "unknown-subject"],
)
def test_an_erasure_that_cannot_be_done_says_why_and_changes_nothing(mesh, subject, error):
    before = (table("sales", "orders", "order_id"), snapshot_ids(), audit.entries())
    with pytest.raises(erasure.ErasureError) as exc:
        erasure.erase(mesh, subject, progress=lambda _: None)
    assert str(exc.value) == error
    assert (table("sales", "orders", "order_id"), snapshot_ids(), audit.entries()) == before
    assert table("customers", "customer_profiles", "customer_id") == [0, 1, 2, 3, 4]
    assert not (settings.mesh_home() / "governance" / "erasures").exists()
