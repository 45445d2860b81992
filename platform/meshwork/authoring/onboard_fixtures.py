"""Unit tests that feed a source: their fixture rows become typed SQL, so they run on landed sources.

dbt builds a unit test's input fixture from the columns of the input's relation in the database. In the
mesh an onboarded source is files read through ``external_location``: there is no relation, and dbt
stops with "Not able to get columns for unit test ... because the relation doesn't exist". So each
``given`` that is a ``source(...)`` with rows as a dict or CSV is rewritten as ``format: sql``, every
column of the source cast to the type the scratch build found (or the YAML's ``data_type``), the
columns a row leaves out as typed NULLs, as dbt itself does. The rows' values are unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

_SOURCE = re.compile(r"""^\s*source\(\s*(['"])(?P<source>[^'"]+)\1\s*,\s*(['"])(?P<table>[^'"]+)\3\s*\)\s*$""")
Columns = dict[tuple[str, str], list[tuple[str, str]]]  # (source, table) -> [(column, DuckDB type)]


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_rows(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """``rows`` as a typed SELECT over every column (absent ones NULL); no rows: an empty typed SELECT."""

    def select(row: dict[str, Any]) -> str:
        given = {str(k).lower(): v for k, v in row.items()}
        return "select " + ", ".join(
            f"cast({_literal(given.get(name.lower()))} as {kind}) as {_quoted(name)}" for name, kind in columns
        )

    if not rows:
        return select({}) + " where false"
    return "\nunion all\n".join(select(r) for r in rows)


def _rows(given: dict[str, Any]) -> list[dict[str, Any]] | None:
    rows, fmt = given.get("rows"), given.get("format", "dict")
    if fmt == "dict" and isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
        return rows
    if fmt == "csv" and isinstance(rows, str):
        return [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(io.StringIO(rows))]
    return None  # sql already, or rows in a fixture file: left as they are


def typed_sources(data: dict[str, Any], columns: Columns) -> list[str]:
    """Rewrite, in place, the source inputs of ``data``'s unit tests; return the ones it could not type."""
    untyped = []
    for test in data.get("unit_tests") or []:
        for given in (test or {}).get("given") or []:
            m = _SOURCE.match(str(given.get("input", "")))
            if not m:
                continue
            rows = _rows(given)
            known = columns.get((m["source"], m["table"]))
            if rows is None:
                continue
            if not known:
                untyped.append(f"unit test '{test.get('name')}' feeds source {m['source']}.{m['table']}")
                continue
            given["format"] = "sql"
            given["rows"] = sql_rows(rows, known)
    return untyped
