"""Rows older than the retention (by the product's retentionColumn) are purged from every place they live."""

from __future__ import annotations

import json
import os
from datetime import UTC, timedelta
from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit
from meshwork.governance import retention
from meshwork.model.loader import load_mesh
from tests.conftest import mesh_cli

pytestmark = pytest.mark.slow


def test_expired_rows_leave_sources_warehouse_and_every_snapshot_and_do_not_come_back(mesh_home: Path):
    env = dict(os.environ)
    for _ in range(2):  # two snapshots of the port: the retained one is cleaned too
        assert (
            mesh_cli("build", "--orders", "300", "--domain", "customers", "--domain", "support", env=env).returncode
            == 0
        )
    con = duckdb.connect()
    landing = f"read_json('{mesh_home}/sources/helpdesk/tickets/*.jsonl')"
    median = con.execute(f"SELECT median(CAST(opened_at AS TIMESTAMP)) FROM {landing}").fetchall()[0][0]
    older = con.execute(f"SELECT count(*) FROM {landing} WHERE CAST(opened_at AS TIMESTAMP) < ?", [median]).fetchall()
    assert older[0][0] > 0
    now = median.replace(tzinfo=UTC) + timedelta(days=730)  # tickets keep 730 days

    removed = retention.purge(load_mesh(), ["support"], now=now)["support/tickets"]
    assert any(r.startswith("sources/helpdesk/tickets/") for r in removed)
    assert any(r.startswith("support/tickets: ") for r in removed)
    assert len([r for r in removed if r.startswith("support/tickets@v1/")]) == 2

    assert con.execute(f"SELECT min(CAST(opened_at AS TIMESTAMP)) >= ? FROM {landing}", [median]).fetchall() == [
        (True,)
    ]
    wh = duckdb.connect(str(mesh_home / "warehouses/support/warehouse.duckdb"), read_only=True)
    assert wh.execute("SELECT count(*) FROM tickets WHERE opened_at < ?", [median]).fetchall() == [(0,)]
    wh.close()
    for manifest in (mesh_home / "ports/support/tickets/v1").glob("*/_manifest.json"):
        files = [str(manifest.parent / f["path"]) for f in json.loads(manifest.read_text())["files"]]
        assert con.execute(f"SELECT count(*) FROM read_parquet({files}) WHERE opened_at < ?", [median]).fetchall() == [
            (0,)
        ]
    assert mesh_cli("ports", "verify", env=env).returncode == 0  # rewritten snapshots' checksums hold
    entry = audit.entries("retention.rows")[-1]
    assert entry["product"] == "support/tickets" and entry["column"] == "opened_at"
    # A rebuild from the cleaned landing zone does not bring them back, and a second purge finds nothing.
    assert mesh_cli("build", "--domain", "support", env=env).returncode == 0
    assert retention.purge_rows(load_mesh().product("support/tickets"), now=now) == {}


def test_nothing_within_the_retention_is_touched(mesh_home: Path):
    env = dict(os.environ)
    assert mesh_cli("build", "--orders", "200", "--domain", "customers", "--domain", "support", env=env).returncode == 0
    oldest = duckdb.sql(
        f"SELECT min(CAST(opened_at AS TIMESTAMP)) FROM read_json('{mesh_home}/sources/helpdesk/tickets/*.jsonl')"
    ).fetchall()[0][0]
    before = {p: p.stat().st_mtime_ns for p in (mesh_home / "ports").rglob("*") if p.is_file()}
    assert retention.purge(load_mesh(), now=oldest.replace(tzinfo=UTC) + timedelta(days=729)) == {}
    assert {p: p.stat().st_mtime_ns for p in (mesh_home / "ports").rglob("*") if p.is_file()} == before
