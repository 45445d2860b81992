"""A data subject's rows in DuckDB database files and Parquet files: delete them, rewrite the file, check.

A row belongs to the subject when one of its columns named in ``rows`` (the subject's key, the keys of
rows linked to it by contract foreign keys, the primary keys of its erased rows, its unique personal
values) holds one of the listed values, compared as text so ``42`` matches a BIGINT and a VARCHAR alike.

DuckDB's ``DELETE`` leaves the deleted values in the file's free blocks, and a table that dbt replaced
leaves its old blocks behind too, so a database file is always rewritten: ``COPY FROM DATABASE`` into a
fresh file beside it (tables, views, schemas, sequences, macros), then a rename over the old one while
the old one is still open, so no other process can have it open read-write in between (DuckDB's lock).

Checks read the decompressed content: each row is rendered as text by DuckDB (``CAST(t AS VARCHAR)``:
every column, nested ones and dates included) and searched for the subject's distinctive values, since
Parquet pages and DuckDB blocks are compressed and a grep of their raw bytes proves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from meshwork.core import settings
from meshwork.core.names import quote
from meshwork.storage import warehouse
from meshwork.storage.scrub import Terms

Rows = dict[str, set[str]]  # column -> values (as text) whose rows belong to the subject


def predicate(columns: list[str], rows: Rows) -> tuple[str, list[list[str]]]:
    """SQL true for a row of the subject (``''`` when no column identifies it), and its parameters."""
    parts, params = [], []
    for c in columns:
        if rows.get(c):
            parts.append(f"list_contains(?, CAST({quote(c)} AS VARCHAR))")
            params.append(sorted(rows[c]))
    return " OR ".join(parts), params


def _tables(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, list[str]]]:
    """(qualified name, column names) of every base table of the connection's own database."""
    found = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary ORDER BY ALL"
    ).fetchall()
    for schema, table in found:
        name = f"{quote(schema)}.{quote(table)}"
        yield name, [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]


def _connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    settings.duckdb_temp_dir().mkdir(parents=True, exist_ok=True)
    return warehouse.quiet(duckdb.connect(str(path), read_only=read_only, config=dict(settings.duckdb_config())))


def erase_in_duckdb(path: Path, rows: Rows) -> int:
    """Delete the subject's rows from every base table of the database file, then rewrite the file.

    Raises ``duckdb.Error`` when the file cannot be opened read-write (a run holds it): nothing changes.
    """
    con = _connect(path)
    try:
        deleted = 0
        for name, columns in list(_tables(con)):
            where, params = predicate(columns, rows)
            if where:
                deleted += int(con.execute(f"DELETE FROM {name} WHERE {where}", params).fetchall()[0][0])
        con.execute("CHECKPOINT")
        _rewrite(con, path)
        return deleted
    finally:
        con.close()


def _rewrite(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    fresh = path.with_name(f".{path.name}.erasing")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"ATTACH '{fresh}' AS erasure_fresh")
    try:
        con.execute(f"COPY FROM DATABASE {quote(catalog)} TO erasure_fresh")
    except BaseException:
        con.execute("DETACH erasure_fresh")
        fresh.unlink(missing_ok=True)
        raise
    con.execute("DETACH erasure_fresh")  # checkpoints the fresh file: it needs no WAL
    os.chmod(fresh, path.stat().st_mode & 0o7777)
    os.replace(fresh, path)


def _findings(con: duckdb.DuckDBPyConnection, source: str, columns: list[str], rows: Rows, terms: Terms) -> set[str]:
    """Labels found in a relation: 'rows of <column>' for the subject's rows, else the value's label."""
    checks: list[tuple[str, str]] = []
    params: list[object] = []
    where, wparams = predicate(columns, rows)
    if where:
        checks.append(("subject's rows", f"count(*) FILTER (WHERE {where})"))
        params += wparams
    for label, values in sorted(terms.values.items()):
        for value in sorted(values):
            checks.append((label, "count(*) FILTER (WHERE contains(lower(CAST(t AS VARCHAR)), ?))"))
            params.append(value.lower())
    if not checks:
        return set()
    counts = con.execute(f"SELECT {', '.join(sql for _, sql in checks)} FROM {source} t", params).fetchall()[0]
    return {label for (label, _), n in zip(checks, counts, strict=True) if n}


def duckdb_findings(path: Path, rows: Rows, terms: Terms) -> set[str]:
    """What of the subject the live content of a database file still holds (every base table)."""
    con = _connect(path, read_only=True)
    try:
        found: set[str] = set()
        for name, columns in list(_tables(con)):
            found |= {f"{label} in {name}" for label in _findings(con, name, columns, rows, terms)}
        return found
    finally:
        con.close()


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    return [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]


def parquet_findings(path: Path, rows: Rows, terms: Terms) -> set[str]:
    """What of the subject a Parquet file's decompressed rows still hold."""
    con = warehouse.memory_connection()
    try:
        source = f"read_parquet('{_literal(path)}')"
        return _findings(con, source, _parquet_columns(con, path), rows, terms)
    finally:
        con.close()


def erase_in_parquet(path: Path, rows: Rows) -> int:
    """Rewrite a Parquet file without the subject's rows (atomic rename); the number removed."""
    con = warehouse.memory_connection()
    try:
        where, params = predicate(_parquet_columns(con, path), rows)
        if not where:
            return 0
        source = f"read_parquet('{_literal(path)}')"
        hit = int(con.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchall()[0][0])
        if hit:
            tmp = path.with_name(f".{path.name}.erasing")
            con.execute(
                f"COPY (SELECT * FROM {source} WHERE NOT coalesce({where}, false)) TO '{_literal(tmp)}' "
                "(FORMAT parquet, COMPRESSION zstd)",
                params,
            )
            os.replace(tmp, path)
        return hit
    finally:
        con.close()


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")
