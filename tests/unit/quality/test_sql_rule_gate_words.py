"""The SQL rule gate's edges and words: a table function behind LATERAL, what ${column} stands for, names that
look like files, long function calls cut at 80 characters, and the parser's own reason for a query it
cannot read. (The gate's main cases are in test_sql_rule_gate.py.)"""

from __future__ import annotations

import sqlglot
import sqlglot.errors

from meshwork.model.sql_rules import problems, substitute

NEITHER = "which is neither its product (${table}) nor a CTE of the query"


def test_a_table_function_behind_lateral_is_refused():
    assert problems("SELECT count(*) FROM ${table}, LATERAL read_csv('/etc/passwd')") == [
        "reads the table function READ_CSV('/etc/passwd')"
    ]
    assert problems("SELECT count(*) FROM ${table} JOIN LATERAL glob('/mesh/*') g ON true") == [
        "reads the table function GLOB('/mesh/*')"
    ]


def test_unnest_and_lateral_subqueries_over_the_table_are_accepted():
    assert problems("SELECT count(*) FROM ${table}, unnest([1, 2]) AS u(x) WHERE x > amount") == []
    assert problems("SELECT count(*) FROM ${table} t, LATERAL (SELECT t.amount * 2 AS d) WHERE d < 0") == []


def test_a_table_function_is_named_as_duckdb_writes_it_and_cut_at_80_characters():
    assert problems("SELECT count(*) FROM read_parquet(['a', 'b'])") == [
        "reads the table function READ_PARQUET(['a', 'b']), not its table"
    ]
    long = "/mesh/ports/" + "x" * 100 + ".parquet"
    (reason,) = problems(f"SELECT count(*) FROM read_parquet('{long}')")
    assert reason == f"reads the table function {('READ_PARQUET(' + repr(long))[:80]}, not its table"
    (reason,) = problems(f"SELECT count(*) FROM ${{table}}, LATERAL read_parquet('{long}')")
    assert reason == f"reads the table function {('READ_PARQUET(' + repr(long))[:80]}"
    (reason,) = problems("SELECT count(*) FROM ${table}, LATERAL read_parquet(['a', 'b'])")
    assert reason == "reads the table function READ_PARQUET(['a', 'b'])"


def test_column_stands_for_the_rules_column_or_a_stand_in_without_one():
    assert problems("SELECT count(*) FROM ${column}", column="amount") == [f"reads 'amount', {NEITHER}"]
    assert problems("SELECT count(*) FROM ${column}") == [f"reads 'column', {NEITHER}"]
    assert substitute("SELECT ${column} FROM ${table} JOIN ${object} USING (id)", "amount") == (
        'SELECT "amount" FROM "product" JOIN "product" USING (id)'
    )
    assert substitute("SELECT ${column} FROM ${table}", 'a"b') == 'SELECT "a""b" FROM "product"'


def test_only_names_with_path_characters_are_called_files():
    assert problems("SELECT count(*) FROM Xrates") == [f"reads 'Xrates', {NEITHER}"]
    assert problems("SELECT count(*) FROM 'rates.csv'") == [
        "reads the file 'rates.csv': a rule reads only its product, through ${table}"
    ]
    assert problems('SELECT count(*) FROM "c:rates"') == [
        "reads the file 'c:rates': a rule reads only its product, through ${table}"
    ]


def test_a_query_the_parser_cannot_read_gets_the_parsers_first_line():
    query = "SELECT count(* FROM ${table}"
    try:
        sqlglot.parse(substitute(query), read="duckdb")
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0]
    assert first.startswith("Expecting )")
    assert problems(query) == [f"cannot be parsed as one DuckDB query: {first}"]
