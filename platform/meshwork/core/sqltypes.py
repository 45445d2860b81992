"""DuckDB type names as DuckDB itself spells them."""

from __future__ import annotations

import duckdb


def canonical_type(con: duckdb.DuckDBPyConnection, physical_type: str) -> str:
    """DuckDB's own spelling of a type (INT -> INTEGER, STRING -> VARCHAR).

    ``physical_type`` has already passed ``names.SQL_TYPE`` (a type name, no expression), which is
    what makes it safe to place in the statement.
    """
    row = con.execute(f"SELECT typeof(CAST(NULL AS {physical_type}))").fetchone()
    return str(row[0]) if row else physical_type.upper()


def canonical_types(con: duckdb.DuckDBPyConnection, physical_types: list[str]) -> list[str]:
    """:func:`canonical_type` for many types in one round trip."""
    if not physical_types:
        return []
    row = con.execute("SELECT " + ", ".join(f"typeof(CAST(NULL AS {t}))" for t in physical_types)).fetchone()
    return [str(v) for v in row] if row else [t.upper() for t in physical_types]
