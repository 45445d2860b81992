"""A domain run publishes its products together or not at all; a run of one product publishes that product."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from meshwork.storage import domain_commit, snapshots
from tests.conftest import dagster_cli, mesh_cli

pytestmark = pytest.mark.slow


def env_for(project: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_PROJECT_DIR": str(project),
    }


def _newest_log(home: Path, domain: str) -> Path:
    return sorted(home.glob(f"logs/build-*/{domain}.log"))[-1]


def ports() -> dict[str, tuple[str | None, list[str]]]:
    """Per sales port: its `latest` and every snapshot kept."""
    return {
        p: (snapshots.latest_snapshot("sales", p, 1), snapshots.snapshot_ids("sales", p, 1))
        for p in ("orders", "order_lines")
    }


def test_order_lines_failing_its_contract_keeps_orders_latest_and_one_product_runs_publish_alone(
    project: Path, mesh_home: Path
):
    env = env_for(project, mesh_home)
    first = mesh_cli("build", "--orders", "200", "--domain", "customers", "--domain", "sales", cwd=project, env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    before = ports()
    assert all(latest for latest, _ in before.values())

    # The shop exports a line with a negative quantity: order_lines breaks its contract, orders does not.
    lines = mesh_home / "sources/shop/order_lines/order_lines.parquet"
    good = lines.read_bytes()
    duckdb.execute(
        f"COPY (SELECT * REPLACE (CASE WHEN order_id = (SELECT min(order_id) FROM '{lines}') THEN -1 ELSE quantity END"
        f" AS quantity) FROM '{lines}') TO '{lines}.new' (FORMAT parquet)"
    )
    Path(f"{lines}.new").replace(lines)
    broken = duckdb.execute(f"SELECT count(*) FROM '{lines}' WHERE quantity < 0").fetchall()[0][0]
    failed = mesh_cli("build", "--domain", "sales", "--json", cwd=project, env=env)
    assert failed.returncode == 1, failed.stdout[-3000:]
    console = failed.stderr
    assert "sales FAILED" in console
    # The console tells the rule in words, its failing-row count, a sample and the log; no stack trace.
    log = _newest_log(mesh_home, "sales")
    assert "sales/order_lines: not published: 1 contract rule(s) broken" in console, console[-3000:]
    assert console.count("sales/order_lines:") == 1  # the gate's step failure repeats it: told once
    assert f"Every line sells at least one unit at a positive price., {broken} failing row(s)" in console
    assert "sample (PII redacted): [{" in console and "'quantity': -1" in console
    assert f"log: {log}" in console
    assert "Traceback" not in console + failed.stdout
    (sales,) = json.loads(failed.stdout)["domains"]
    (record,) = sales["failures"]
    assert (record["product"], record["kind"]) == ("sales/order_lines", "contract")
    assert [(r["failing_rows"], r["sample"][0]["quantity"]) for r in record["rules"]] == [(broken, -1)]
    # Neither `latest` moved, and what orders staged in the failed run was deleted.
    assert ports() == before
    assert domain_commit.pending("sales") == []

    # The UI's Materialize on one asset: a run that selects only orders publishes orders alone.
    lines.write_bytes(good)
    one = dagster_cli(
        "asset", "materialize", "-m", "domains.sales.definitions", "--select", "sales/orders", cwd=project, env=env
    )
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    after = ports()
    assert after["orders"][0] != before["orders"][0]
    assert after["order_lines"] == before["order_lines"]
