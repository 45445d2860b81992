"""Each domain's private DuckDB warehouse.

DuckDB allows one read-write process per file, so a warehouse is opened only by its own domain's
runs, one step at a time: every asset that touches it claims the Dagster concurrency pool named by
:func:`pool`, whose limit is 1 in the instance configuration (see ``meshwork.runtime.instance``). No other
domain ever opens it; they read the domain's output ports instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from meshwork.core import settings
from meshwork.core.names import check_identifier


def path(domain: str) -> Path:
    # Every warehouse file has the same stem so dbt-duckdb names its database "warehouse" in every
    # domain, and one dbt target serves them all.
    return settings.warehouses_dir() / check_identifier(domain) / "warehouse.duckdb"


def pool(domain: str) -> str:
    return f"warehouse_{check_identifier(domain)}"


@contextmanager
def connect(domain: str) -> Iterator[duckdb.DuckDBPyConnection]:
    file = path(domain)
    file.parent.mkdir(parents=True, exist_ok=True)
    settings.duckdb_temp_dir().mkdir(parents=True, exist_ok=True)
    con = quiet(duckdb.connect(str(file), config=dict(settings.duckdb_config())))
    try:
        yield con
    finally:
        con.close()


def memory_connection() -> duckdb.DuckDBPyConnection:
    """A scratch in-memory connection with the mesh's per-process limits (readers, tools)."""
    settings.duckdb_temp_dir().mkdir(parents=True, exist_ok=True)
    return quiet(duckdb.connect(config=dict(settings.duckdb_config())))


def quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    # DuckDB draws a progress bar on stdout for long queries: noise in run logs and in CLI output.
    con.execute("SET enable_progress_bar = false")
    return con


# Which run last built each table. The pool serializes steps, not whole runs, so another run of the
# same domain may rebuild a table between this run's build and its publish; the manifest then names
# the run that really produced the data.
_BUILDS = "meshwork.builds"


def record_build(con: duckdb.DuckDBPyConnection, table: str, run_id: str) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS meshwork")
    con.execute(f"CREATE TABLE IF NOT EXISTS {_BUILDS} (tbl VARCHAR, run_id VARCHAR, built_at TIMESTAMPTZ)")
    con.execute(f"INSERT INTO {_BUILDS} VALUES (?, ?, now())", [table, run_id])


def last_build(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'meshwork' AND table_name = 'builds'"
    ).fetchall()
    if not exists[0][0]:
        return None
    row = con.execute(f"SELECT run_id FROM {_BUILDS} WHERE tbl = ? ORDER BY built_at DESC LIMIT 1", [table]).fetchall()
    return row[0][0] if row else None
