"""Each step of `mesh erase` on its own, on small real warehouses and landing files (no publish, no build):
how a subject is read, who owns its key, what lies downstream, which rows point at an erased one, what one
target's erasure removes and records, and what the certificate and the audit entry say. Fast: the
mutation pool of governance/erasure.py runs these first (tests/mutate.py, docs/testing.md)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

import pytest

from meshwork.core import audit, settings
from meshwork.governance import erasure
from meshwork.governance.erasure_subject import Subject
from meshwork.governance.erasure_sweep import Place
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.storage import snapshots, warehouse
from tests.conftest import REPO

OWNER = "customers/customer_profiles"
PROFILES = """CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
    'First' || range AS first_name, 'Last' || range AS last_name, 'person' || range || '@example.com' AS email,
    '+47 555 0' || range AS phone, DATE '1990-01-01' AS birth_date, NULL::VARCHAR AS street, 'Oslo' AS city,
    NULL::VARCHAR AS postcode, 'NO' AS country, TIMESTAMP '2024-01-01' AS created_at FROM range(5)"""


@pytest.fixture
def mesh():
    return load_mesh(REPO, today=date(2027, 6, 1))


@pytest.fixture
def tables(mesh):
    """Customer 3 has orders 30 and 31 (three lines) and ticket T-1; customer 4 has order 40 and T-2."""
    with warehouse.connect("customers") as con:
        con.execute(PROFILES)
    with warehouse.connect("sales") as con:
        con.execute("CREATE TABLE orders AS SELECT * FROM (VALUES (30, 3), (31, 3), (40, 4)) t(order_id, customer_id)")
        con.execute(
            "CREATE TABLE order_lines AS SELECT * FROM (VALUES (30, 1), (30, 2), (31, 1), (40, 1)) t(order_id, line_no)"
        )
    with warehouse.connect("support") as con:
        con.execute("CREATE TABLE tickets AS SELECT * FROM (VALUES ('T-1', 3), ('T-2', 4)) t(ticket_id, customer_id)")
    return mesh


def landing(system: str, table: str, name: str, text: str):
    path = settings.sources_dir() / system / table / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rows(domain: str, name: str, column: str) -> list:
    with warehouse.connect(domain) as con:
        return [r[0] for r in con.execute(f"SELECT {column} FROM {name} ORDER BY ALL").fetchall()]


def con():
    return warehouse.memory_connection()


def certificate() -> erasure.Certificate:
    return erasure.Certificate("c1", "hmac-sha256:x", "customer_id", "2027-06-01T00:00:00+00:00", OWNER, [])


# --- who owns a key, and what lies downstream -------------------------------------------------------------


def test_the_plan_lists_each_product_once_producers_before_their_consumers(mesh):
    _, _, owner, holders, others = erasure.plan(mesh, "customer_id=3")
    keys = [p.key for p in holders + others]
    assert len(keys) == len(set(keys)) == 6  # customer_360 is reached twice (orders, tickets): listed once
    assert holders[0] is owner and others == [mesh.product("finance/daily_revenue")]
    for i, product in enumerate(holders + others):
        for producer in {port.product for port in product.inputs} & set(keys):
            assert keys.index(producer) < i, f"{producer} listed after its consumer {product.key}"
    assert [p.key for p in erasure._downstream(mesh, mesh.product("marketing/customer_360"))] == [
        "marketing/customer_segments"
    ]
    assert erasure._downstream(mesh, mesh.product("finance/daily_revenue")) == []


def test_the_value_is_everything_after_the_first_equals_sign(mesh):
    key, value, owner, _, _ = erasure.plan(mesh, "email=a=b@example.com")
    assert (key, value, owner.key) == ("email", "a=b@example.com", OWNER)


def test_a_key_that_is_not_a_column_name_is_refused_by_name(mesh):
    with pytest.raises(ValueError, match="'Customer-Id' is not a valid name"):
        erasure.plan(mesh, "Customer-Id=3")


def test_two_source_aligned_owners_of_a_key_are_both_named(mesh):
    domain = mesh.domains["customers"]
    [profiles] = domain.products
    twin = dataclasses.replace(profiles, descriptor=profiles.descriptor.model_copy(update={"domain": "crm"}))
    doubled = dataclasses.replace(mesh, domains={**mesh.domains, "crm": dataclasses.replace(domain, products=(twin,))})
    with pytest.raises(erasure.ErasureError) as exc:
        erasure.plan(doubled, "customer_id=3")
    assert str(exc.value) == (
        "no single source-aligned product owns the key 'customer_id' (found: customers/customer_profiles, "
        "crm/customer_profiles)"
    )
    # Neither a consumer-aligned product with the key unique (customer_360) nor a part of a composite key owns.
    assert not erasure._names_one_row(mesh.product("finance/daily_revenue"), "region")
    assert erasure._names_one_row(mesh.product("marketing/customer_360"), "customer_id")
    assert not erasure._names_one_row(mesh.product("sales/orders"), "no_such_column")


def test_the_rows_pointing_at_a_product_are_found_through_foreign_keys(mesh):
    def dependents(key: str) -> set:
        return {(p.key, mine, theirs) for p, mine, theirs in erasure._dependents(mesh, mesh.product(key))}

    assert dependents(OWNER) == {
        ("sales/orders", "customer_id", "customer_id"),
        ("support/tickets", "customer_id", "customer_id"),
    }
    assert dependents("sales/orders") == {("sales/order_lines", "order_id", "order_id")}
    assert dependents("sales/order_lines") == set()


def test_the_subject_value_is_read_as_the_key_columns_type():
    con = warehouse.memory_connection()
    assert erasure._typed("42", con, "BIGINT") == 42
    assert erasure._typed("2024-01-02", con, "DATE") == date(2024, 1, 2)
    with pytest.raises(erasure.ErasureError) as exc:
        erasure._typed("4x", con, "INTEGER")
    assert str(exc.value) == "'4x' is not a valid INTEGER"


def test_only_a_base_table_of_that_name_counts_as_existing():
    with warehouse.connect("support") as con:
        con.execute("CREATE TABLE tickets AS SELECT 1 AS x")
        con.execute("CREATE VIEW ticket_view AS SELECT * FROM tickets")
        assert erasure._table_exists(con, "tickets") is True
        assert erasure._table_exists(con, "ticket_view") is False
        assert erasure._table_exists(con, "nothing") is False


# --- one target ---------------------------------------------------------------------------------------------


def test_a_target_is_removed_from_its_table_and_landing_files_and_its_dependents_are_returned(tables):
    mesh = tables
    csv = landing("shop", "orders", "day1.csv", "order_id,customer_id\n30,3\n31,3\n40,4\n")
    jsonl = landing("shop", "orders", "day2.jsonl", '{"order_id": 50, "customer_id": 4}\n')
    cert, who = certificate(), Subject("customer_id", 3)
    visited = {(p.key, "customer_id") for p in erasure.plan(mesh, "customer_id=3")[3]}
    orders = mesh.product("sales/orders")

    follow = erasure._erase_target(mesh, erasure.Target(orders, "customer_id", (3,)), con(), cert, visited, who)

    [lines] = follow
    assert (lines.product.key, lines.column, sorted(lines.values)) == ("sales/order_lines", "order_id", [30, 31])
    assert rows("sales", "orders", "order_id") == [40]
    assert csv.read_text(encoding="utf-8").splitlines() == ["order_id,customer_id", "40,4"]
    assert "50" in jsonl.read_text(encoding="utf-8")  # nothing of the subject: left as it was
    assert cert.sources == {"sources/shop/orders/day1.csv": 2}
    assert cert.warehouses == {"sales/orders": 2} and cert.places == [] and cert.snapshots == {}
    # The erased orders' own ids are the subject's too (they name it in logs and samples).
    assert who.rows == {"customer_id": {"3"}, "order_id": {"30", "31"}}

    # A dependent already erased by that column is not followed again.
    again = erasure._erase_target(
        mesh, erasure.Target(orders, "customer_id", (4,)), con(), cert, visited | {(lines.product.key, "order_id")}, who
    )
    assert again == [] and rows("sales", "orders", "order_id") == []
    assert who.rows["order_id"] == {"30", "31", "40"}


def test_a_linked_target_is_removed_by_the_linked_column_and_only_a_single_key_names_its_rows(tables):
    mesh = tables
    landing("shop", "order_lines", "lines.csv", "order_id,line_no\n30,1\n30,2\n31,1\n40,1\n")
    cert, who = certificate(), Subject("customer_id", 3)
    lines = mesh.product("sales/order_lines")

    assert erasure._erase_target(mesh, erasure.Target(lines, "order_id", (30, 31)), con(), cert, set(), who) == []
    assert rows("sales", "order_lines", "order_id") == [40]
    assert cert.warehouses == {"sales/order_lines": 3} and cert.sources == {"sources/shop/order_lines/lines.csv": 3}
    # A line number is a part of a composite key: it names nothing alone and is not searched for.
    assert who.rows == {"customer_id": {"3"}, "order_id": {"30", "31"}}

    # A ticket id is a whole primary key: the erased tickets' ids become the subject's.
    tickets = mesh.product("support/tickets")
    assert erasure._erase_target(mesh, erasure.Target(tickets, "customer_id", (3,)), con(), cert, set(), who) == []
    assert rows("support", "tickets", "ticket_id") == ["T-2"]
    assert who.rows["ticket_id"] == {"T-1"} and cert.warehouses["support/tickets"] == 1

    # The owner's own key is its primary key: nothing more to add. Its dependents not yet visited (orders
    # and tickets by customer_id) are the next targets, by the value their rows point at.
    owner = mesh.product(OWNER)
    follow = erasure._erase_target(mesh, erasure.Target(owner, "customer_id", (3,)), con(), cert, set(), who)
    assert sorted((t.product.key, t.column, t.values) for t in follow) == [
        ("sales/orders", "customer_id", (3,)),
        ("support/tickets", "customer_id", (3,)),
    ]
    assert set(who.rows) == {"customer_id", "order_id", "ticket_id"}
    assert rows("customers", "customer_profiles", "customer_id") == [0, 1, 2, 4]


def test_a_table_that_cannot_be_cleaned_is_a_failed_place_and_nothing_is_counted(tables):
    mesh = tables
    with warehouse.connect("support") as c:
        c.execute("CREATE OR REPLACE TABLE tickets AS SELECT 'T-1' AS ticket_id, 3 AS client")  # no customer_id
    cert = certificate()
    tickets = mesh.product("support/tickets")

    erasure._erase_target(mesh, erasure.Target(tickets, "customer_id", (3,)), con(), cert, set(), Subject("x", 1))

    [place] = cert.places
    assert (place.place, place.kind, place.method, place.ok) == ("support/tickets", "table", "DELETE by key", False)
    assert place.result.startswith("could not be opened: ") and "customer_id" in place.result
    assert cert.warehouses == {} and rows("support", "tickets", "ticket_id") == ["T-1"]


def test_a_missing_table_is_skipped_without_a_place(mesh):
    cert = certificate()
    orders = mesh.product("sales/orders")
    target = erasure.Target(orders, "customer_id", (3,))
    assert erasure._erase_target(mesh, target, con(), cert, set(), Subject("x", 1)) == []
    assert (cert.warehouses, cert.places, cert.sources) == ({}, [], {})


# --- the whole erasure: progress, certificate and audit entry ----------------------------------------------


def test_the_erasure_reports_each_step_and_its_certificate_and_audit_entry_say_what_was_done(tables, monkeypatch):
    mesh = tables
    landing("crm", "customers", "export.csv", "customer_id,email\n3,person3@example.com\n4,person4@example.com\n")
    # A Dagster instance on PostgreSQL is a place erasure does not reach: the certificate cannot be clean.
    monkeypatch.setenv("MESH_DAGSTER_POSTGRES_URL", "postgresql://mesh@localhost/dagster")
    progress: list[str] = []
    asked: list[list[str]] = []
    before = datetime.now(UTC)

    cert = erasure.erase(mesh, "customer_id=3", rebuild=lambda d: asked.append(d) or True, progress=progress.append)

    own = [m for m in progress if m.startswith(("erased customer_id=3", "rebuilding", "sweeping"))]
    assert own == [
        f"erased customer_id=3 from {OWNER}",
        "erased customer_id=3 from sales/orders",
        "erased customer_id=3 from support/tickets",
        "erased customer_id=3 from marketing/customer_360",
        "erased customer_id=3 from marketing/customer_segments",
        "erased customer_id=3 from sales/order_lines (2 order_id value(s) linked to the subject)",
        "rebuilding finance from the cleaned ports …",
        "sweeping every snapshot and every file under MESH_HOME …",
    ]
    assert asked == [["finance"]] and cert.rebuild_failed is False
    assert cert.sources == {"sources/crm/customers/export.csv": 1}
    assert cert.holders == [
        OWNER,
        "sales/orders",
        "support/tickets",
        "marketing/customer_360",
        "marketing/customer_segments",
        "sales/order_lines",
    ]
    assert len(cert.id) == 12 and int(cert.id, 16) >= 0
    requested, completed = datetime.fromisoformat(cert.requested_at), datetime.fromisoformat(cert.completed_at or "")
    assert requested.tzinfo == UTC and completed.tzinfo == UTC and before <= requested <= completed
    postgres = Place(
        "Dagster instance storage (PostgreSQL)",
        "database",
        "not scrubbed: only the SQLite instance storage is",
        "not checked",
        False,
    )
    assert cert.failed_places == [postgres] and cert.places[-1] == postgres and len(cert.places) > 1
    assert cert.verified_absent is False

    path = settings.mesh_home() / "governance" / "erasures" / f"{cert.id}.json"
    assert json.loads(path.read_text(encoding="utf-8")) == dataclasses.asdict(cert)
    [entry] = audit.entries("erasure")
    assert entry["subject_key"] == "customer_id" and entry["subject"] == cert.subject
    assert entry["not_clean"] == ["Dagster instance storage (PostgreSQL)"] and entry["verified_absent"] is False
    assert entry["holders"] == cert.holders and entry["places"] == len(cert.places) and entry["snapshots"] == 0

    # A second erasure in the same MESH_HOME gets its own certificate beside the first.
    second = erasure.erase(mesh, "customer_id=4", progress=lambda _: None)
    assert second.id != cert.id and second.rebuild_failed is False
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([f"{cert.id}.json", f"{second.id}.json"])
    assert [e["certificate"] for e in audit.entries("erasure")] == [cert.id, second.id]


def test_without_a_rebuild_nothing_is_rebuilt_and_a_clean_sweep_is_verified(tables):
    progress: list[str] = []
    cert = erasure.erase(tables, "customer_id=4", progress=progress.append)
    assert cert.rebuilt_domains == ["finance"] and cert.rebuild_failed is False
    assert not any(m.startswith("rebuilding") for m in progress)
    assert cert.verified_absent is True and cert.failed_places == [] and cert.places


def test_an_erasure_by_order_asks_to_rebuild_every_domain_downstream_that_does_not_hold_the_key(tables):
    asked: list[list[str]] = []
    progress: list[str] = []
    cert = erasure.erase(tables, "order_id=30", rebuild=lambda d: asked.append(d) or False, progress=progress.append)
    assert cert.owner_product == "sales/orders" and cert.holders == ["sales/orders", "sales/order_lines"]
    assert asked == [["finance", "marketing"]] and cert.rebuild_failed is True
    assert "rebuilding finance, marketing from the cleaned ports …" in progress
    assert rows("sales", "orders", "order_id") == [31, 40] and rows("sales", "order_lines", "order_id") == [31, 40]


def test_what_cannot_be_cleaned_is_told_as_found_and_listed_on_the_certificate_and_only_the_subject_is_touched(
    tables,
):
    with warehouse.connect("support") as c:
        c.execute("CREATE OR REPLACE TABLE tickets AS SELECT 'T-1' AS ticket_id, 3 AS client")  # no customer_id
    dump = settings.mesh_home() / "exports" / "dump.bin"
    dump.parent.mkdir(parents=True)
    dump.write_bytes(b"\x00\x01person3@example.com")
    log = settings.mesh_home() / "logs" / "build" / "sales.log"
    log.parent.mkdir(parents=True)
    orphan = "failed sample {'order_id': 77, 'customer_id': None}\n"
    log.write_text(orphan + "failed sample {'customer_id': 3, 'email': 'person3@example.com'}\n", encoding="utf-8")
    progress: list[str] = []

    cert = erasure.erase(tables, "customer_id=3", progress=progress.append)

    failed = {p.place: p for p in cert.failed_places}
    assert set(failed) == {"support/tickets", "exports/dump.bin"} and cert.verified_absent is False
    assert failed["support/tickets"].method == "DELETE by key"
    assert failed["exports/dump.bin"].result == "still holds: email"
    assert "NOT CLEAN: exports/dump.bin: still holds: email" in progress
    # The subject's line is redacted; a line of a record without a customer id is not the subject's.
    assert log.read_text(encoding="utf-8") == orphan + "failed sample {'customer_id': null, 'email': '[erased]'}\n"
    assert audit.entries("erasure")[0]["not_clean"] == sorted(failed, key=[p.place for p in cert.places].index)


def test_every_major_version_with_the_key_column_is_cleaned_even_after_one_without_it(tables):
    profiles = tables.product(OWNER)
    with warehouse.connect("customers") as c:
        publish.publish(c, profiles, "customer_profiles", "r1")
    [snapshot] = snapshots.snapshot_ids("customers", "customer_profiles", 1)
    port = profiles.current_port
    # An older major whose contract had no customer_id yet, listed first (as ports are, oldest first).
    older = dataclasses.replace(
        port,
        contract=dataclasses.replace(
            port.contract,
            model=port.contract.model.model_copy(update={"version": "0.9.0"}),
            columns=tuple(c for c in port.contract.columns if c.name != "customer_id"),
        ),
    )
    both = dataclasses.replace(profiles, ports=(older, port))
    cert = certificate()

    erasure._erase_target(tables, erasure.Target(both, "customer_id", (3,)), con(), cert, set(), Subject("x", 1))

    assert cert.snapshots == {f"customers/customer_profiles@v1/{snapshot}": 1}
    assert snapshots.read_manifest("customers", "customer_profiles", 1, snapshot).row_count == 4
