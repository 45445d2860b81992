"""Each domain's private DuckDB warehouse.

DuckDB allows one read-write process per file, so a warehouse is opened only by its own domain's
runs, one step at a time: every asset that touches it claims the Dagster concurrency pool named by
:func:`pool`, whose limit is 1 in the instance configuration (see ``meshwork.instance``). No other
domain ever opens it; they read the domain's output ports instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from meshwork import settings
from meshwork.names import check_identifier


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
    con = _quiet(duckdb.connect(str(file), config=dict(settings.duckdb_config())))
    try:
        yield con
    finally:
        con.close()


def memory_connection() -> duckdb.DuckDBPyConnection:
    """A scratch in-memory connection with the mesh's per-process limits (readers, tools)."""
    settings.duckdb_temp_dir().mkdir(parents=True, exist_ok=True)
    return _quiet(duckdb.connect(config=dict(settings.duckdb_config())))


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    # DuckDB draws a progress bar on stdout for long queries: noise in run logs and in CLI output.
    con.execute("SET enable_progress_bar = false")
    return con
