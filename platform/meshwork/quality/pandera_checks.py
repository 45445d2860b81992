"""Domain-defined checks written with pandera, run in DuckDB through pandera's ibis backend.

A domain references a function from its contract (``quality: {type: custom, engine: pandera,
implementation: "checks:positive_quantities"}``). The function returns a
``pandera.ibis.DataFrameSchema``; it is validated lazily against an ibis table bound to the same
DuckDB connection, so the checks compile to SQL and the data never leaves the database. Only the
failure cases (the failing rows pandera reports) come back to Python.

pandera is used here for what it does well: letting a domain team express its own rules in
Python. The contract's standard rules run in ``meshwork.quality.validator`` instead, in one scan, because
pandera's ibis backend skipped ``unique=True`` without a word when we measured it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import ibis
import pandera.ibis as pa

from meshwork.core.names import check_identifier


def run(
    schema_factory: Callable[[], pa.DataFrameSchema], con: duckdb.DuckDBPyConnection, table: str
) -> tuple[int, list[dict[str, Any]]]:
    """(number of failure cases, a few of them) for the domain's pandera schema over ``table``."""
    schema = schema_factory()
    if not isinstance(schema, pa.DataFrameSchema):
        raise TypeError(f"{schema_factory.__name__} must return a pandera.ibis.DataFrameSchema, not {type(schema)}")
    data = ibis.duckdb.from_connection(con).table(check_identifier(table))
    # pandera-ibis reports failure cases for an empty table; no row can break a row rule, and an
    # empty table is the row-count rule's business.
    if data.count().execute() == 0:
        return 0, []
    try:
        schema.validate(data, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        sample = []
        for record in cases.head(5).to_dict("records"):
            value = record.get("failure_case")
            sample.append(value if isinstance(value, dict) else {"check": record.get("check"), "case": str(value)})
        return len(cases), sample
    return 0, []
