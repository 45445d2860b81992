"""A domain's ports switch `latest` together: a crash between two switches never leaves readers a mixed set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from meshwork.model.loader import load_mesh
from meshwork.ports import domain_publish, publish
from meshwork.ports.reader import PortReader
from meshwork.storage import domain_commit, snapshots, stores, warehouse

ORDERS = """CREATE OR REPLACE TABLE orders AS
    SELECT range AS order_id, range % 7 AS customer_id, TIMESTAMP '2025-01-01' + to_seconds(range) AS order_ts,
           'completed' AS status, 'EMEA' AS region, 'EUR' AS currency, 'web' AS channel
    FROM range({n})"""
LINES = """CREATE OR REPLACE TABLE order_lines AS
    SELECT order_id, 1::INTEGER AS line_no, 'sku-1' AS sku, 2::INTEGER AS quantity,
           5.00::DECIMAL(12,2) AS unit_price, 10.00::DECIMAL(14,2) AS line_amount
    FROM orders"""
CUSTOMERS = "(SELECT range AS customer_id FROM range(7))"

# Commits staged pointers and dies (like kill -9) right after the first `latest` switch.
CRASHING_COMMIT = """
import json, os, sys
from meshwork.ports import domain_publish
from meshwork.storage import snapshots
from meshwork.storage.domain_commit import Pointer

switch = snapshots.point_latest
def switch_then_die(version, snapshot_id):
    switch(version, snapshot_id)
    os._exit(9)
snapshots.point_latest = switch_then_die
domain_publish.commit("sales", "run-crash", [Pointer.model_validate(p) for p in json.loads(sys.argv[1])])
"""


@pytest.fixture
def mesh(project: Path):
    return load_mesh(project)


def stage_sales(mesh, n: int, run_id: str, stage: bool = True) -> list[domain_commit.Pointer]:
    """Build orders and order_lines of ``n`` orders, then publish (or only stage) both."""
    with warehouse.connect("sales") as con:
        con.execute(ORDERS.format(n=n))
        con.execute(LINES)
        own = {"sales/orders": "orders"}
        orders = publish.publish(con, mesh.product("sales/orders"), "orders", run_id, lambda k: CUSTOMERS, stage)
        lines = publish.publish(
            con, mesh.product("sales/order_lines"), "order_lines", run_id, lambda k: own.get(k, CUSTOMERS), stage
        )
    return domain_publish.pointers([*orders.manifests, *lines.manifests])


def latest() -> tuple[str | None, str | None]:
    return snapshots.latest_snapshot("sales", "orders", 1), snapshots.latest_snapshot("sales", "order_lines", 1)


def crash_mid_commit(staged: list[domain_commit.Pointer]) -> None:
    payload = json.dumps([p.model_dump() for p in staged])
    proc = subprocess.run([sys.executable, "-c", CRASHING_COMMIT, payload], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr


def test_staged_snapshots_leave_latest_where_it_was_until_the_domain_commits(mesh):
    first = stage_sales(mesh, 50, "run-1", stage=False)
    staged = stage_sales(mesh, 60, "run-2")
    assert latest() == (first[0].snapshot_id, first[1].snapshot_id)
    domain_publish.commit("sales", "run-2", staged)
    assert latest() == (staged[0].snapshot_id, staged[1].snapshot_id)
    assert domain_commit.pending("sales") == []


def test_a_crash_between_two_pointer_switches_is_rolled_forward_by_the_next_read(mesh):
    first = stage_sales(mesh, 50, "run-1", stage=False)
    staged = stage_sales(mesh, 60, "run-2")
    crash_mid_commit(staged)
    # On disk the set is mixed: orders moved, order_lines did not; the commit record says what was meant.
    assert latest() == (staged[0].snapshot_id, first[1].snapshot_id)
    assert [r.pointers for _, r in domain_commit.pending("sales")] == [staged]

    # A consumer reading both ports gets the whole new set, and the record is gone.
    consumer = mesh.product("finance/daily_revenue")
    with duckdb.connect() as con:
        reader = PortReader(mesh, consumer, con, run_id="consumer")
        read = {key: reader.resolve(key).snapshot_id for key in ("sales/order_lines", "sales/orders")}
    assert read == {"sales/orders": staged[0].snapshot_id, "sales/order_lines": staged[1].snapshot_id}
    assert latest() == (staged[0].snapshot_id, staged[1].snapshot_id)
    assert domain_commit.pending("sales") == []


def test_a_crash_between_two_pointer_switches_is_rolled_forward_by_the_next_build(mesh):
    stage_sales(mesh, 50, "run-1", stage=False)
    staged = stage_sales(mesh, 60, "run-2")
    crash_mid_commit(staged)
    settled = domain_publish.settle("sales")  # what every gate of the domain's next run does first
    assert [r.run_id for r in settled] == ["run-crash"]
    assert latest() == (staged[0].snapshot_id, staged[1].snapshot_id)


def test_a_late_commit_record_never_moves_latest_back_to_older_snapshots(mesh):
    stage_sales(mesh, 50, "run-1", stage=False)
    older = stage_sales(mesh, 60, "run-2")
    newer = stage_sales(mesh, 70, "run-3")
    domain_publish.commit("sales", "run-3", newer)
    # A record of the older commit turns up afterwards (its process died before deleting it).
    record = domain_commit.Record(domain="sales", run_id="run-2", created_at="2026-01-01T00:00:00Z", pointers=older)
    stores.current().write_text("sales/_commits/20260101T000000000000Z-run-2.json", record.model_dump_json())
    domain_publish.settle("sales")
    assert latest() == (newer[0].snapshot_id, newer[1].snapshot_id)
    assert domain_commit.pending("sales") == []


def test_a_malformed_commit_record_is_reported_with_its_file(mesh):
    stage_sales(mesh, 50, "run-1", stage=False)
    stores.current().write_text("sales/_commits/20260101T000000000000Z-x.json", "{not json")
    consumer = mesh.product("finance/daily_revenue")
    with duckdb.connect() as con, pytest.raises(Exception, match=r"_commits/20260101T000000000000Z-x.json"):
        PortReader(mesh, consumer, con, run_id="consumer").resolve("sales/orders")


def test_discarding_a_staged_set_deletes_its_snapshots_but_never_latest(mesh):
    first = stage_sales(mesh, 50, "run-1", stage=False)
    staged = stage_sales(mesh, 60, "run-2")
    domain_publish.discard("sales", [*staged, *first])
    assert snapshots.snapshot_ids("sales", "orders", 1) == [first[0].snapshot_id]
    assert snapshots.snapshot_ids("sales", "order_lines", 1) == [first[1].snapshot_id]
    assert latest() == (first[0].snapshot_id, first[1].snapshot_id)
