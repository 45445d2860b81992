"""`mesh erase` leaves no trace of the subject in any source, warehouse or retained snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit
from tests.conftest import mesh_cli

pytestmark = pytest.mark.slow


def all_snapshot_files(home: Path) -> dict[str, list[str]]:
    out = {}
    for manifest in (home / "ports").rglob("_manifest.json"):
        m = json.loads(manifest.read_text())
        out[str(manifest.parent.relative_to(home))] = [str(manifest.parent / f["path"]) for f in m["files"]]
    return out


def test_erasure_removes_the_subject_everywhere_and_certifies_it(mesh_home: Path):
    env = dict(os.environ)
    assert mesh_cli("build", "--orders", "400", env=env).returncode == 0
    # A second build keeps two snapshots per port: erasure must clean the retained one too.
    assert mesh_cli("build", env=env).returncode == 0
    con = duckdb.connect()
    victim = con.execute(
        f"SELECT customer_id FROM read_json('{mesh_home}/sources/helpdesk/tickets/*.jsonl') "
        f"WHERE customer_id IN (SELECT customer_id FROM '{mesh_home}/sources/shop/orders/*.parquet') LIMIT 1"
    ).fetchall()[0][0]
    order_ids = [
        r[0]
        for r in con.execute(
            f"SELECT order_id FROM '{mesh_home}/sources/shop/orders/*.parquet' WHERE customer_id = ?", [victim]
        ).fetchall()
    ]
    assert order_ids
    revenue_before = sorted(p.name for p in (mesh_home / "ports/finance/daily_revenue/v1").iterdir() if p.is_dir())

    result = mesh_cli("erase", "--subject", f"customer_id={victim}", "--json", env=env)
    assert result.returncode == 0, result.stderr
    cert = json.loads(result.stdout)
    assert cert["verified_absent"] and cert["owner_product"] == "customers/customer_profiles"
    assert {"sales/orders", "sales/order_lines", "support/tickets", "marketing/customer_360"} <= set(cert["holders"])
    assert cert["rebuilt_domains"] == ["finance"]
    assert (mesh_home / "governance/erasures" / f"{cert['id']}.json").exists()

    # No published snapshot of any port holds the subject any more.
    for snapshot, files in all_snapshot_files(mesh_home).items():
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({files})").fetchall()]
        if "customer_id" in columns:
            n = con.execute(f"SELECT count(*) FROM read_parquet({files}) WHERE customer_id = ?", [victim]).fetchall()
            assert n == [(0,)], snapshot
    # Every retained snapshot was rewritten, not only the latest (each build leaves at least one).
    retained = lambda port: len(list((mesh_home / "ports" / port / "v1").glob("*/_manifest.json")))  # noqa: E731
    assert retained("sales/orders") >= 2
    assert len([s for s in cert["snapshots"] if s.startswith("sales/orders@v1/")]) == retained("sales/orders")
    # The lines of the subject's orders carry no customer id, but follow their orders (contract foreign key).
    lines = all_snapshot_files(mesh_home)
    for snapshot in [s for s in lines if s.startswith("ports/sales/order_lines/")]:
        n = con.execute(
            f"SELECT count(*) FROM read_parquet({lines[snapshot]}) WHERE list_contains(?, order_id)", [order_ids]
        ).fetchall()
        assert n == [(0,)], snapshot
    assert len([s for s in cert["snapshots"] if s.startswith("sales/order_lines@v1/")]) == retained("sales/order_lines")
    assert con.execute(
        f"SELECT count(*) FROM '{mesh_home}/sources/shop/order_lines/*.parquet' WHERE list_contains(?, order_id)",
        [order_ids],
    ).fetchall() == [(0,)]
    # Nor do the sources or the warehouses.
    for sql in (
        f"SELECT count(*) FROM read_csv('{mesh_home}/sources/crm/customers/*.csv') WHERE customer_id = ?",
        f"SELECT count(*) FROM '{mesh_home}/sources/shop/orders/*.parquet' WHERE customer_id = ?",
        f"SELECT count(*) FROM read_json('{mesh_home}/sources/helpdesk/tickets/*.jsonl') WHERE customer_id = ?",
    ):
        assert con.execute(sql, [victim]).fetchall() == [(0,)]
    for domain, table in (
        ("customers", "customer_profiles"),
        ("sales", "orders"),
        ("support", "tickets"),
        ("marketing", "customer_360"),
    ):
        wh = duckdb.connect(str(mesh_home / f"warehouses/{domain}/warehouse.duckdb"), read_only=True)
        assert wh.execute(f"SELECT count(*) FROM {table} WHERE customer_id = ?", [victim]).fetchall() == [(0,)]
        wh.close()
    # Checksums of rewritten snapshots verify, the aggregate was rebuilt, and the audit chain holds.
    assert mesh_cli("ports", "verify", env=env).returncode == 0
    revenue_after = sorted(p.name for p in (mesh_home / "ports/finance/daily_revenue/v1").iterdir() if p.is_dir())
    assert revenue_after != revenue_before
    assert audit.verify() == [] and audit.entries("erasure")[-1]["certificate"] == cert["id"]
    assert f"customer_id={victim}" not in (mesh_home / "audit/audit.jsonl").read_text()


def test_an_unknown_subject_is_refused_and_changes_nothing(mesh_home: Path):
    env = dict(os.environ)
    assert mesh_cli("build", "--orders", "200", "--domain", "customers", env=env).returncode == 0
    before = {k: [Path(f).stat().st_mtime_ns for f in v] for k, v in all_snapshot_files(mesh_home).items()}
    result = mesh_cli("erase", "--subject", "customer_id=987654321", env=env)
    assert result.returncode == 2 and "nothing to erase" in result.stderr
    bad_key = mesh_cli("erase", "--subject", "shoe_size=42", env=env)
    assert bad_key.returncode == 2 and "no single source-aligned product owns the key 'shoe_size'" in bad_key.stderr
    after = {k: [Path(f).stat().st_mtime_ns for f in v] for k, v in all_snapshot_files(mesh_home).items()}
    assert before == after
    assert audit.entries("erasure") == []
