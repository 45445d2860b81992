"""What each ODCS rule form compiles to: the rule's id, kind, words, severity, columns and parameters.

The validator runs what these rules say, and `mesh build`, the catalog and the check metadata show their
descriptions: a form compiled to the wrong bound, the wrong column order or the wrong severity is a
check that does not guard what the contract promises. (The forms' behaviour on data is in
tests/unit/quality/test_rule_forms.py; the malformed forms are in test_rule_compile_errors.py.)
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from meshwork.model.contracts import Contract, load_contract
from meshwork.model.rules import Rule, compile_rules

HEAD = """\
apiVersion: v3.1.0
kind: DataContract
id: sales.t
version: 1.0.0
status: active
schema:
  - name: t
    physicalType: table
"""


def load(tmp_path: Path, properties: str, schema_quality: str = "", tail: str = "") -> Contract:
    """A contract of sales/t with these properties (YAML list items), schema-level quality and top-level tail."""
    text = HEAD
    if schema_quality:
        text += "    quality:\n" + textwrap.indent(textwrap.dedent(schema_quality).strip(), "      ") + "\n"
    text += "    properties:\n" + textwrap.indent(textwrap.dedent(properties).strip(), "      ") + "\n"
    text += textwrap.dedent(tail)
    path = tmp_path / "t.odcs.yaml"
    path.write_text(text, encoding="utf-8")
    contract, problems = load_contract(path, "sales/t")
    assert problems == [] and contract, problems
    return contract


def rules_of(contract: Contract) -> dict[str, Rule]:
    rules, problems = compile_rules(contract, "sales/t")
    assert problems == [], [str(p) for p in problems]
    return {r.id: r for r in rules}


def shape(rule: Rule) -> tuple:
    return rule.kind, rule.description, rule.severity, rule.columns, rule.params


def test_required_unique_and_a_single_primary_key_compile_to_not_null_and_unique(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            """
            - {name: id, physicalType: BIGINT, logicalType: integer, primaryKey: true}
            - {name: email, physicalType: VARCHAR, logicalType: string, required: true, unique: true}
            - {name: note, physicalType: VARCHAR, logicalType: string}
            """,
        )
    )
    assert {i: shape(r) for i, r in rules.items()} == {
        "id.not_null": ("not_null", "'id' is never empty", "error", ("id",), {}),
        "id.unique": ("unique", "'id' is unique", "error", ("id",), {}),
        "email.not_null": ("not_null", "'email' is never empty", "error", ("email",), {}),
        "email.unique": ("unique", "'email' is unique", "error", ("email",), {}),
    }
    assert rules["id.unique"].column == "id"


def test_a_composite_primary_key_is_one_rule_over_its_columns_in_key_position_order(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            """
            - {name: line_no, physicalType: INTEGER, logicalType: integer, primaryKey: true, primaryKeyPosition: 2}
            - {name: note, physicalType: VARCHAR, logicalType: string}
            - {name: order_id, physicalType: BIGINT, logicalType: integer, primaryKey: true, primaryKeyPosition: 1}
            """,
        )
    )
    key = rules.pop("primary_key.unique")
    assert shape(key) == ("unique", "(order_id, line_no) identifies each row", "error", ("order_id", "line_no"), {})
    assert key.column is None  # a rule over two columns has no single column
    # Each key column is required, but neither is unique on its own.
    assert sorted(rules) == ["line_no.not_null", "order_id.not_null"]


def test_a_primary_key_without_positions_keeps_the_declared_order(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            """
            - {name: b, physicalType: BIGINT, logicalType: integer, primaryKey: true}
            - {name: a, physicalType: BIGINT, logicalType: integer, primaryKey: true}
            """,
        )
    )
    assert rules["primary_key.unique"].columns == ("b", "a")


def test_a_key_column_without_a_position_sorts_as_position_zero(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            """
            - {name: b, physicalType: BIGINT, logicalType: integer, primaryKey: true, primaryKeyPosition: 1}
            - {name: a, physicalType: BIGINT, logicalType: integer, primaryKey: true}
            """,
        )
    )
    assert rules["primary_key.unique"].columns == ("a", "b")


@pytest.mark.parametrize(
    "options, params, span",
    [
        ("{minimum: 0, maximum: 10}", (0, 10, False, False), "[0, 10]"),
        ("{exclusiveMinimum: 0}", (0, None, True, False), "(0, …]"),
        ("{exclusiveMaximum: 0}", (None, 0, False, True), "[…, 0)"),
        ("{minimum: 0}", (0, None, False, False), "[0, …]"),
        ("{maximum: 0}", (None, 0, False, False), "[…, 0]"),
        ("{exclusiveMinimum: -1.5, exclusiveMaximum: 2.5}", (-1.5, 2.5, True, True), "(-1.5, 2.5)"),
        ("{minimum: 1, exclusiveMaximum: 5}", (1, 5, False, True), "[1, 5)"),
    ],
)
def test_a_range_keeps_each_bound_and_whether_it_is_exclusive(tmp_path: Path, options, params, span):
    rules = rules_of(
        load(tmp_path, f"- {{name: x, physicalType: DOUBLE, logicalType: number, logicalTypeOptions: {options}}}")
    )
    lo, hi, lo_open, hi_open = params
    assert shape(rules["x.range"]) == (
        "range",
        f"'x' lies in {span}",
        "error",
        ("x",),
        {"min": lo, "max": hi, "min_exclusive": lo_open, "max_exclusive": hi_open},
    )


@pytest.mark.parametrize(
    "options, params, words",
    [
        ("{minLength: 2, maxLength: 5}", {"min": 2, "max": 5}, "2 to 5"),
        ("{minLength: 3}", {"min": 3, "max": None}, "3 to ∞"),
        ("{maxLength: 4}", {"min": None, "max": 4}, "0 to 4"),
    ],
)
def test_a_length_keeps_its_bounds(tmp_path: Path, options, params, words):
    rules = rules_of(
        load(tmp_path, f"- {{name: s, physicalType: VARCHAR, logicalType: string, logicalTypeOptions: {options}}}")
    )
    assert shape(rules["s.length"]) == ("length", f"'s' has {words} characters", "error", ("s",), params)


def test_a_pattern_in_the_options_or_as_invalid_values_compiles_to_a_pattern_rule(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            """
            - {name: code, physicalType: VARCHAR, logicalType: string, logicalTypeOptions: {pattern: "^[A-Z]{3}$"}}
            - name: mail
              physicalType: VARCHAR
              logicalType: string
              quality: [{metric: invalidValues, arguments: {pattern: "^[^@]+@[^@]+$"}, mustBe: 0, severity: warning}]
            """,
        )
    )
    assert shape(rules["code.pattern"]) == (
        "pattern",
        "'code' matches /^[A-Z]{3}$/",
        "error",
        ("code",),
        {"pattern": "^[A-Z]{3}$"},
    )
    assert shape(rules["mail.pattern"]) == (
        "pattern",
        "'mail' matches /^[^@]+@[^@]+$/",
        "warn",
        ("mail",),
        {"pattern": "^[^@]+@[^@]+$"},
    )


def test_library_metrics_compile_to_their_rules_with_their_severity(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            """
            - name: a
              physicalType: VARCHAR
              logicalType: string
              quality: [{metric: nullValues, mustBe: 0, severity: warn}]
            - name: b
              physicalType: VARCHAR
              logicalType: string
              quality: [{metric: missingValues, mustBe: 0, severity: critical}]
            - name: c
              physicalType: BIGINT
              logicalType: integer
              quality: [{type: library, metric: duplicateValues, mustBe: 0, severity: info}]
            - name: d
              physicalType: VARCHAR
              logicalType: string
              quality: [{metric: invalidValues, arguments: {validValues: [red, green]}, mustBe: 0, severity: warn}]
            """,
        )
    )
    assert {i: shape(r) for i, r in rules.items()} == {
        "a.not_null": ("not_null", "'a' is never empty", "warn", ("a",), {}),
        "b.not_null": ("not_null", "'b' is never empty", "error", ("b",), {}),
        "c.unique": ("unique", "'c' is unique", "warn", ("c",), {}),
        "d.allowed_values": (
            "allowed_values",
            "'d' is one of ['red', 'green']",
            "warn",
            ("d",),
            {"values": ["red", "green"]},
        ),
    }


@pytest.mark.parametrize(
    "severity, expected",
    [("error", "error"), ("critical", "error"), ("", "error"), ("warn", "warn"), ("warning", "warn"), ("info", "warn")],
)
def test_each_severity_word_maps_to_blocking_or_not(tmp_path: Path, severity, expected):
    rules = rules_of(
        load(
            tmp_path,
            "- {name: a, physicalType: BIGINT, logicalType: integer, quality: [QUALITY]}".replace(
                "QUALITY", f"{{metric: nullValues, mustBe: 0, severity: '{severity}'}}"
            ),
        )
    )
    assert rules["a.not_null"].severity == expected


@pytest.mark.parametrize(
    "bounds, ops, words",
    [
        (
            "mustBeBetween: [1, 1000]",
            {"mustBeGreaterOrEqualTo": 1, "mustBeLessOrEqualTo": 1000},
            "be at least 1 and be at most 1000",
        ),
        ("mustBeGreaterThan: 5", {"mustBeGreaterThan": 5}, "be greater than 5"),
        ("mustBeGreaterOrEqualTo: 5", {"mustBeGreaterOrEqualTo": 5}, "be at least 5"),
        ("mustBeLessThan: 7", {"mustBeLessThan": 7}, "be less than 7"),
        ("mustBeLessOrEqualTo: 7", {"mustBeLessOrEqualTo": 7}, "be at most 7"),
        ("mustBe: 3", {"mustBe": 3}, "equal 3"),
    ],
)
def test_a_row_count_keeps_each_bound_in_its_words(tmp_path: Path, bounds, ops, words):
    rules = rules_of(
        load(tmp_path, "- {name: a, physicalType: BIGINT, logicalType: integer}", f"- {{metric: rowCount, {bounds}}}")
    )
    assert shape(rules["row_count"]) == ("row_count", f"the row count must {words}", "error", (), {"ops": ops})


def test_a_named_warning_row_count_keeps_its_name_and_severity(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            "- {name: a, physicalType: BIGINT, logicalType: integer}",
            "- {metric: rowCount, name: enough_rows, mustBeGreaterThan: 10, severity: warn}",
        )
    )
    assert shape(rules["enough_rows"]) == (
        "row_count",
        "the row count must be greater than 10",
        "warn",
        (),
        {"ops": {"mustBeGreaterThan": 10}},
    )


def test_sql_rules_keep_query_bounds_and_a_stable_id(tmp_path: Path):
    query = "SELECT count(*) FROM ${table} WHERE a < 0"
    column_query = "SELECT count(*) FROM ${object} WHERE ${column} > 10"
    rules = rules_of(
        load(
            tmp_path,
            f"""
            - name: a
              physicalType: BIGINT
              logicalType: integer
              quality:
                - {{type: sql, query: "{column_query}", mustBeLessThan: 3, severity: warn, description: few big ones}}
            """,
            f"""
            - {{type: sql, query: "{query}", mustBe: 0}}
            - {{type: sql, name: named, query: "{query}", mustBe: 0}}
            """,
        )
    )
    stable = "sql_" + hashlib.sha1(query.encode()).hexdigest()[:8]
    column_id = "a.sql_" + hashlib.sha1(column_query.encode()).hexdigest()[:8]
    assert {i: shape(r) for i, r in rules.items()} == {
        column_id: ("sql", "few big ones", "warn", ("a",), {"query": column_query, "ops": {"mustBeLessThan": 3}}),
        stable: ("sql", f"{query} must equal 0", "error", (), {"query": query, "ops": {"mustBe": 0}}),
        "named": ("sql", f"{query} must equal 0", "error", (), {"query": query, "ops": {"mustBe": 0}}),
    }


def test_python_rules_keep_their_implementation(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            """
            - name: a
              physicalType: BIGINT
              logicalType: integer
              quality: [{type: custom, engine: Pandera, implementation: "checks:positive", severity: warn}]
            """,
            """
            - type: custom
              engine: pandera
              implementation: "checks:balanced"
              name: books_balance
              description: debits equal credits
            """,
        )
    )
    assert {i: shape(r) for i, r in rules.items()} == {
        "a.positive": ("python", "domain check checks:positive", "warn", ("a",), {"implementation": "checks:positive"}),
        "books_balance": ("python", "debits equal credits", "error", (), {"implementation": "checks:balanced"}),
    }


def test_a_text_quality_item_is_documentation_and_compiles_to_nothing(tmp_path: Path):
    contract = load(
        tmp_path,
        "- {name: a, physicalType: BIGINT, logicalType: integer, quality: [{type: text, description: in cents}]}",
        "- {type: text, description: refreshed nightly}",
    )
    assert compile_rules(contract, "sales/t") == ([], [])
