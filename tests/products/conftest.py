"""Fixtures for the product tests."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from meshwork.example.sources import TABLES
from meshwork.runtime import testing

# How each example source system exports its table (the example's generator lands them this way).
EXPORTS = {f"{t.system}/{t.table}": t for t in TABLES}


@pytest.fixture
def exported_landing_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sample rows for a source land in the format its system exports (CSV, JSON lines), not only Parquet.

    `run_product` writes every sample source as Parquet, but the CRM exports CSV and the helpdesk JSON
    lines, and the products that ingest them read only `*.csv` / `*.jsonl`. This writes the sample the
    way `run_product` does, then rewrites it in the export's own format, so the products read what
    they read in production.
    """
    write_parquet = testing._write_source

    def write(con: duckdb.DuckDBPyConnection, landing: Path, key: str, rows: testing.Rows) -> None:
        write_parquet(con, landing, key, rows)
        export = EXPORTS.get(key)
        if export is None or export.fmt == "parquet":
            return
        folder = landing / export.system / export.table
        parquet = folder / "part-0.parquet"
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{folder / f'part-0.{export.fmt}'}' ({export.options})"
        )
        parquet.unlink()

    monkeypatch.setattr(testing, "_write_source", write)
