"""The example mesh builds end to end through Dagster, and consumers only ever read ports."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

pytestmark = pytest.mark.slow

PRODUCTS = [
    "sales/orders",
    "sales/order_lines",
    "customers/customer_profiles",
    "support/tickets",
    "finance/daily_revenue",
    "marketing/customer_360",
    "marketing/customer_segments",
]


def latest_manifest(home: Path, product: str) -> dict:
    root = home / "ports" / product / "v1"
    snapshot = (root / "latest").read_text().strip()
    return json.loads((root / snapshot / "_manifest.json").read_text())


def port_count(home: Path, product: str, where: str = "true") -> int:
    m = latest_manifest(home, product)
    files = [str(home / "ports" / product / "v1" / m["snapshot_id"] / f["path"]) for f in m["files"]]
    return duckdb.execute(f"SELECT count(*) FROM read_parquet({files}) WHERE {where}").fetchall()[0][0]


def source_count(home: Path, sql: str) -> int:
    con = duckdb.connect()
    con.execute(f"SET file_search_path = '{home / 'sources'}'")
    return con.execute(sql).fetchall()[0][0]


def test_every_product_has_a_published_snapshot_whose_rows_match_the_sources(built_mesh: Path):
    home = built_mesh
    for product in PRODUCTS:
        assert latest_manifest(home, product)["row_count"] == port_count(home, product) > 0, product
    assert port_count(home, "sales/orders") == 1000
    assert port_count(home, "sales/order_lines") == source_count(
        home, "SELECT count(*) FROM 'shop/order_lines/*.parquet'"
    )
    customers = source_count(home, "SELECT count(DISTINCT customer_id) FROM read_csv('crm/customers/*.csv')")
    assert port_count(home, "customers/customer_profiles") == customers
    assert port_count(home, "support/tickets") == source_count(
        home, "SELECT count(*) FROM read_json('helpdesk/tickets/*.jsonl')"
    )
    assert port_count(home, "marketing/customer_360") == customers
    assert port_count(home, "marketing/customer_segments") == customers
    expected_days = source_count(
        home,
        "SELECT count(*) FROM (SELECT DISTINCT CAST(order_ts AS DATE), region, currency "
        "FROM 'shop/orders/*.parquet' WHERE status IN ('completed', 'refunded'))",
    )
    assert port_count(home, "finance/daily_revenue") == expected_days


def test_revenue_in_the_finance_port_equals_the_revenue_in_the_sales_sources(built_mesh: Path):
    home = built_mesh
    m = latest_manifest(home, "finance/daily_revenue")
    files = [str(home / "ports/finance/daily_revenue/v1" / m["snapshot_id"] / f["path"]) for f in m["files"]]
    net = duckdb.execute(f"SELECT sum(net_revenue) FROM read_parquet({files})").fetchall()[0][0]
    expected = source_count(
        home,
        "SELECT sum(l.quantity * l.unit_price) FROM 'shop/orders/*.parquet' o "
        "JOIN 'shop/order_lines/*.parquet' l USING (order_id) WHERE o.status = 'completed'",
    )
    assert net == expected


def test_consumers_read_producers_only_through_their_ports(built_mesh: Path):
    home = built_mesh
    reads = [json.loads(line) for line in (home / "audit/audit.jsonl").read_text().splitlines()]
    reads = [r for r in reads if r["action"] == "port.read"]
    pairs = {(r["consumer"], r["port"]) for r in reads}
    assert ("finance/daily_revenue", "sales/orders@v1") in pairs
    assert ("marketing/customer_360", "customers/customer_profiles@v1") in pairs
    assert ("marketing/customer_360", "support/tickets@v1") in pairs
    # Each read names the snapshot that was latest at the time, and every such snapshot is complete.
    for r in reads:
        domain, rest = r["port"].split("/")
        product = rest.split("@")[0]
        assert (home / "ports" / domain / product / "v1" / r["snapshot"] / "_manifest.json").exists()
    # The consumer's warehouse holds views over port snapshots, never another domain's warehouse.
    con = duckdb.connect(str(home / "warehouses/marketing/warehouse.duckdb"), read_only=True)
    views = con.execute("SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall()
    databases = {
        r[0] for r in con.execute("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall()
    }
    con.close()
    assert databases == {"warehouse"}
    port_views = [v for v in views if v[0].startswith("port_")]
    assert {f"{v[0]}.{v[1]}" for v in port_views} >= {
        "port_sales.orders_v1",
        "port_customers.customer_profiles_v1",
        "port_support.tickets_v1",
    }
    for _, _, sql in port_views:
        assert str(home / "ports") in sql and "warehouse.duckdb" not in sql


DOMAINS = sorted({p.split("/")[0] for p in PRODUCTS})


def test_every_domain_run_is_recorded_in_the_dagster_instance(built_mesh: Path):
    with dg.DagsterInstance.from_config(str(built_mesh / "dagster")) as instance:
        runs = instance.get_runs()
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        # One run per domain, and the platform location's run measuring the mesh after them.
        assert sorted(r.job_name for r in runs) == sorted([f"{d}_build" for d in DOMAINS] + ["mesh_metrics"])
        for product in PRODUCTS:
            key = dg.AssetKey(product.split("/"))
            assert instance.get_latest_materialization_event(key) is not None, product
            check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(key, "contract")]
            )
            assert check[dg.AssetCheckKey(key, "contract")].status.value == "SUCCEEDED", product
