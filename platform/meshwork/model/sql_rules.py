"""The static gate on a contract's ``type: sql`` rules: one read-only query over the product's own table.

A SQL rule is domain-written text that the platform runs. Before it may load, it must parse (sqlglot,
DuckDB dialect) as exactly one query (SELECT, UNION, …) that reads only the product's table through
``${table}`` (or ``${object}``) and the CTEs it defines itself: no COPY, ATTACH, PRAGMA, SET, INSTALL,
DDL or DML, no table function or file (``read_parquet``, ``'x.csv'``, ``glob``…), no other database
or schema. Queries the parser cannot read are refused too: the gate does not guess. The quality
layer re-checks this at run time and runs the query in a sandbox that can read nothing else; this
gate is what makes ``mesh check`` say so first.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot
import sqlglot.errors
from sqlglot import exp

# The name ${table} and ${object} stand for, here and in the run-time sandbox (which has a view of it).
TABLE = "product"
PLACEHOLDERS = ("${table}", "${object}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def substitute(query: str, column: str | None = None) -> str:
    """The rule's query with its placeholders replaced by quoted identifiers."""
    for placeholder in PLACEHOLDERS:
        query = query.replace(placeholder, _quoted(TABLE))
    # A schema-level rule has no column: a stand-in keeps the text parseable (the run fails on it).
    return query.replace("${column}", _quoted(column or "column"))


def problems(query: str, allowed: Iterable[str] = (), column: str | None = None) -> list[str]:
    """Why ``query`` may not run as a SQL rule (empty: it may). ``allowed``: other readable table names."""
    try:
        statements = [s for s in sqlglot.parse(substitute(query, column), read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        return [f"cannot be parsed as one DuckDB query: {str(exc).splitlines()[0]}"]
    if len(statements) != 1:
        return [f"must be exactly one query, not {len(statements)} statements"]
    (root,) = statements
    if not isinstance(root, exp.Query):
        return [f"must be a query (SELECT …), not {_kind(root)}"]
    found: list[str] = []
    for node in root.walk():
        # Statements nested in a query (a CTE's INSERT … RETURNING, SELECT … INTO) write as well.
        if isinstance(node, exp.DDL | exp.DML | exp.Command | exp.Into):
            found.append(f"may only read, but contains {_kind(node)}")
    readable = {TABLE, *(name.lower() for name in allowed)}
    readable |= {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}
    for table in root.find_all(exp.Table):
        found += _table_problems(table, readable)
    for source in root.find_all(exp.From, exp.Join, exp.Lateral):
        if isinstance(source.this, exp.Func) and not isinstance(source.this, exp.Unnest):
            found.append(f"reads the table function {source.this.sql('duckdb')[:80]}")
    return list(dict.fromkeys(found))  # one line per distinct reason


def _table_problems(table: exp.Table, readable: set[str]) -> list[str]:
    if not isinstance(table.this, exp.Identifier):
        # read_parquet(…), read_csv(…), glob(…), range(…)…: a function in table position.
        return [f"reads the table function {table.this.sql('duckdb')[:80]}, not its table"]
    if table.args.get("db") or table.args.get("catalog"):
        return [f"reads {table.sql('duckdb')}: a rule may not name a schema or another database"]
    name = table.name
    if name.lower() in readable:
        return []
    if any(ch in name for ch in "/\\.:"):
        return [f"reads the file '{name}': a rule reads only its product, through ${{table}}"]
    return [f"reads '{name}', which is neither its product (${{table}}) nor a CTE of the query"]


def _kind(node: exp.Expr) -> str:
    """The statement's keyword (COPY, ATTACH, INSERT, INTO…) as the rule's author wrote it."""
    words = node.sql("duckdb").split()
    return (words[0] if words else type(node).__name__).upper()[:40]
