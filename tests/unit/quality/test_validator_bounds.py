"""Where each rule draws its line, on real DuckDB tables: a bound itself, one step past it, NULLs, the
row-count comparisons, the freshness window (on a frozen clock), foreign keys, and what a SQL rule's
value means. A check that moves its line by one lets through what the contract forbids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import time_machine

from meshwork.model.rules import Rule, compile_rules
from meshwork.quality.validator import Validator
from tests.unit.model.test_rule_compilation import load


def results(tmp_path: Path, properties: str, table: str, rules: list[Rule] | None = None, **kwargs):
    """{rule id: result} for ``table`` (a SELECT) checked against a contract of sales/t with ``properties``."""
    contract = load(tmp_path, properties)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS {table}")
    if rules is None:
        rules, problems = compile_rules(contract, "sales/t")
        assert problems == []
    report = Validator(con, "t", contract, "sales/t@v1", **kwargs).run(rules)
    return {r.rule.id: r for r in report.results}


@pytest.mark.parametrize(
    "options, values, failing",
    [
        ("{exclusiveMinimum: 0}", "0, 0.001, NULL", 1),
        ("{minimum: 0}", "-0.001, 0, NULL", 1),
        ("{exclusiveMaximum: 10}", "10, 9.999, NULL", 1),
        ("{maximum: 10}", "10.001, 10, NULL", 1),
        ("{minimum: 0, maximum: 10}", "-1, 0, 10, 11, NULL", 2),
        ("{exclusiveMinimum: 0, exclusiveMaximum: 10}", "0, 5, 10, NULL", 2),
    ],
)
def test_a_range_fails_exactly_the_values_outside_it(tmp_path: Path, options, values, failing):
    found = results(
        tmp_path,
        f"- {{name: x, physicalType: DOUBLE, logicalType: number, logicalTypeOptions: {options}}}",
        f"SELECT x::DOUBLE AS x FROM (VALUES {', '.join(f'({v})' for v in values.split(', '))}) AS v(x)",
    )
    assert (found["x.range"].passed, found["x.range"].failing_rows) == (False, failing)


def test_a_range_on_a_decimal_column_compares_in_the_columns_type(tmp_path: Path):
    found = results(
        tmp_path,
        "- {name: x, physicalType: 'DECIMAL(10,2)', logicalType: number, logicalTypeOptions: {maximum: 0.1}}",
        "SELECT x::DECIMAL(10,2) AS x FROM (VALUES (0.1), (0.11), (0.09)) AS v(x)",
    )
    assert found["x.range"].failing_rows == 1 and found["x.range"].sample == [{"x": "0.11"}]


def test_a_length_counts_characters_between_its_bounds(tmp_path: Path):
    found = results(
        tmp_path,
        "- {name: s, physicalType: VARCHAR, logicalType: string, logicalTypeOptions: {minLength: 2, maxLength: 3}}",
        "SELECT * FROM (VALUES ('a'), ('ab'), ('abc'), ('abcd'), ('é€'), (NULL)) AS v(s)",
    )
    assert found["s.length"].failing_rows == 2
    assert sorted(row["s"] for row in found["s.length"].sample) == ["a", "abcd"]


def test_a_pattern_must_match_the_whole_value(tmp_path: Path):
    found = results(
        tmp_path,
        "- {name: s, physicalType: VARCHAR, logicalType: string, logicalTypeOptions: {pattern: '[A-Z]{2}'}}",
        "SELECT * FROM (VALUES ('AB'), ('ABC'), ('xAB'), (NULL)) AS v(s)",
    )
    assert found["s.pattern"].failing_rows == 2
    assert sorted(row["s"] for row in found["s.pattern"].sample) == ["ABC", "xAB"]


def test_the_pii_scan_reads_lists_of_text_too(tmp_path: Path):
    # A public VARCHAR[] column is scanned like text (it once made the whole validation fail in DuckDB's binder).
    prop = (
        "- {name: tags, physicalType: 'VARCHAR[]', logicalType: array, items: {logicalType: string}, "
        "classification: public}"
    )
    found = results(
        tmp_path, prop, "SELECT * FROM (VALUES (['ok', 'fine']), (['mail jo@example.org']), (NULL)) v(tags)"
    )
    assert (found["tags.no_pii"].passed, found["tags.no_pii"].failing_rows) == (False, 1)
    assert found["tags.no_pii"].sample == [{"tags": "***"}]


COUNT_CASES = [
    ({"mustBe": 5}, True),
    ({"mustBe": 4}, False),
    ({"mustBeGreaterThan": 4}, True),
    ({"mustBeGreaterThan": 5}, False),
    ({"mustBeGreaterOrEqualTo": 5}, True),
    ({"mustBeGreaterOrEqualTo": 6}, False),
    ({"mustBeLessThan": 6}, True),
    ({"mustBeLessThan": 5}, False),
    ({"mustBeLessOrEqualTo": 5}, True),
    ({"mustBeLessOrEqualTo": 4}, False),
    ({"mustBeGreaterOrEqualTo": 1, "mustBeLessOrEqualTo": 5}, True),
    ({"mustBeGreaterOrEqualTo": 1, "mustBeLessOrEqualTo": 4}, False),
    ({"mustBeGreaterOrEqualTo": 6, "mustBeLessOrEqualTo": 9}, False),
]


@pytest.mark.parametrize("ops, ok", COUNT_CASES)
def test_the_row_count_compares_with_each_bound(tmp_path: Path, ops, ok):
    rule = Rule("row_count", "row_count", "rows", params={"ops": ops})
    found = results(tmp_path, "- {name: a, physicalType: BIGINT, logicalType: integer}", "FROM range(5) t(a)", [rule])
    assert (found["row_count"].passed, found["row_count"].detail) == (ok, "" if ok else "it is 5")


def test_the_row_count_detail_groups_thousands(tmp_path: Path):
    rule = Rule("row_count", "row_count", "rows", params={"ops": {"mustBeLessThan": 10}})
    found = results(
        tmp_path, "- {name: a, physicalType: BIGINT, logicalType: integer}", "FROM range(1234) t(a)", [rule]
    )
    assert found["row_count"].detail == "it is 1,234"


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FRESH = "- {name: at, physicalType: TYPE, logicalType: timestamp}"


@pytest.mark.parametrize("column_type", ["TIMESTAMP", "TIMESTAMPTZ"])
@pytest.mark.parametrize("age, ok", [(timedelta(hours=2), True), (timedelta(hours=2, seconds=1), False)])
def test_freshness_holds_up_to_its_window_and_not_a_second_more(tmp_path: Path, column_type, age, ok):
    newest = NOW - age
    rule = Rule("at.freshness", "freshness", "fresh", columns=("at",), params={"max_age_seconds": 7200.0})
    literal = newest.replace(tzinfo=None).isoformat(sep=" ")
    newest_value = f"TIMESTAMP '{literal}'" if column_type == "TIMESTAMP" else f"TIMESTAMPTZ '{literal}+00'"
    table = f"SELECT {newest_value} - INTERVAL (range) HOUR AS at FROM range(3)"
    with time_machine.travel(NOW, tick=False):
        found = results(tmp_path, FRESH.replace("TYPE", column_type), table, [rule])
    result = found["at.freshness"]
    assert result.passed is ok
    assert result.detail == ("" if ok else f"the newest value is {newest.isoformat()}, 2h old")


def test_freshness_of_an_empty_column_fails_and_says_so(tmp_path: Path):
    rule = Rule("at.freshness", "freshness", "fresh", columns=("at",), params={"max_age_seconds": 7200.0})
    found = results(tmp_path, FRESH.replace("TYPE", "TIMESTAMP"), "SELECT NULL::TIMESTAMP AS at", [rule])
    assert (found["at.freshness"].passed, found["at.freshness"].detail) == (False, "the column has no values")


FK_PROP = """
- name: c
  physicalType: BIGINT
  logicalType: integer
  relationships: [{to: "../../customers/contracts/profiles.odcs.yaml#/schema/profiles/properties/id"}]
- {name: email, physicalType: VARCHAR, logicalType: string, classification: pii}
"""
FK_TABLE = (
    "SELECT (range % 9)::BIGINT AS c, 'u' || range || '@x.org' AS email FROM range(12) UNION ALL SELECT NULL, 'n'"
)


def test_a_foreign_key_counts_orphans_but_not_nulls_and_samples_them_redacted(tmp_path: Path):
    asked = []

    def resolve(product: str) -> str:
        asked.append(product)
        return "(SELECT range::BIGINT AS id FROM range(2))"

    found = results(tmp_path, FK_PROP, FK_TABLE, resolve_port=resolve)
    fk = found["c.foreign_key"]
    assert asked == ["customers/profiles"]
    assert (fk.passed, fk.failing_rows) == (False, 8)  # c = range % 9 over 12 rows: 2..8 and 2 again; not the NULL
    assert len(fk.sample) == 5
    assert all(row["email"] == "***" and row["c"] >= 2 for row in fk.sample)


def test_a_foreign_key_without_a_reader_or_with_a_failing_one_fails_and_says_why(tmp_path: Path):
    found = results(tmp_path, FK_PROP, FK_TABLE)
    assert (found["c.foreign_key"].passed, found["c.foreign_key"].detail) == (
        False,
        "no port reader to resolve the referenced product",
    )

    def refuse(product: str) -> str:
        raise LookupError(f"{product} has published nothing")

    found = results(tmp_path, FK_PROP, FK_TABLE, resolve_port=refuse)
    assert (found["c.foreign_key"].passed, found["c.foreign_key"].detail) == (
        False,
        "customers/profiles has published nothing",
    )


def test_a_foreign_key_whose_every_value_exists_passes(tmp_path: Path):
    found = results(tmp_path, FK_PROP, FK_TABLE, resolve_port=lambda p: "(SELECT range::BIGINT AS id FROM range(9))")
    assert (found["c.foreign_key"].passed, found["c.foreign_key"].failing_rows, found["c.foreign_key"].sample) == (
        True,
        0,
        [],
    )


def test_each_freshness_rule_reads_its_own_column_in_the_same_scan_as_the_row_rules(tmp_path: Path):
    props = """
    - {name: n, physicalType: BIGINT, logicalType: integer, required: true}
    - {name: old, physicalType: TIMESTAMP, logicalType: timestamp}
    - {name: new, physicalType: TIMESTAMP, logicalType: timestamp}
    """
    rules = [
        Rule("n.not_null", "not_null", "n", columns=("n",)),
        Rule(
            "n.range",
            "range",
            "r",
            columns=("n",),
            params={"min": 1, "max": None, "min_exclusive": False, "max_exclusive": False},
        ),  # fmt: skip
        Rule("old.freshness", "freshness", "o", columns=("old",), params={"max_age_seconds": 3600.0}),
        Rule("new.freshness", "freshness", "f", columns=("new",), params={"max_age_seconds": 3600.0}),
    ]
    table = (
        "SELECT CASE WHEN range = 0 THEN NULL ELSE range - 2 END AS n, TIMESTAMP '2026-06-01 09:00:00' AS old, "
        "TIMESTAMP '2026-06-01 11:30:00' AS new FROM range(5)"
    )
    with time_machine.travel(NOW, tick=False):
        found = results(tmp_path, props, table, rules)
    assert [(i, found[i].passed, found[i].failing_rows) for i in ("n.not_null", "n.range")] == [
        ("n.not_null", False, 1),
        ("n.range", False, 2),
    ]
    assert (found["old.freshness"].passed, found["new.freshness"].passed) == (False, True)
    assert found["old.freshness"].detail == "the newest value is 2026-06-01T09:00:00+00:00, 3h old"
