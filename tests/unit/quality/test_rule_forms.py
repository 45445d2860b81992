"""Each ODCS rule form Meshwork accepts, with a case that passes and one that fails, and the NULL
semantics pinned: a NULL is never a duplicate, never outside a range, never an invalid value (only
`nullValues`/`required` say anything about NULLs)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from meshwork.model.contracts import load_contract
from meshwork.model.rules import compile_rules
from meshwork.quality.validator import Validator

CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: sales.forms
version: 1.0.0
status: active
schema:
  - name: forms
    physicalType: table
    properties:
      - name: k
        physicalType: BIGINT
        logicalType: integer
        quality: [{type: library, metric: duplicateValues, mustBe: 0}]
      - name: must
        physicalType: VARCHAR
        logicalType: string
        quality: [{type: library, metric: nullValues, mustBe: 0}]
      - name: also
        physicalType: VARCHAR
        logicalType: string
        quality: [{type: library, metric: missingValues, mustBe: 0}]
      - name: colour
        physicalType: VARCHAR
        logicalType: string
        quality: [{type: library, metric: invalidValues, arguments: {validValues: [red, green]}, mustBe: 0}]
      - name: above
        physicalType: DOUBLE
        logicalType: number
        logicalTypeOptions: {exclusiveMinimum: 0}
      - name: below
        physicalType: DOUBLE
        logicalType: number
        logicalTypeOptions: {exclusiveMaximum: 10}
      - name: within
        physicalType: DOUBLE
        logicalType: number
        logicalTypeOptions: {minimum: 0, maximum: 10}
"""

CLEAN = """CREATE OR REPLACE TABLE forms AS SELECT * FROM (VALUES
    (1, 'a', 'x', 'red', 0.01, 9.99, 0.0),
    (2, 'b', 'y', 'green', 5.0, -3.0, 10.0),
    (NULL, 'c', 'z', NULL, NULL, NULL, NULL),
    (NULL, 'd', 'w', 'red', 1.0, 1.0, 5.0)
) AS t(k, must, also, colour, above, below, within)"""
TYPED = """CREATE OR REPLACE TABLE forms AS SELECT k::BIGINT AS k, must, also, colour, above::DOUBLE AS above,
    below::DOUBLE AS below, within::DOUBLE AS within FROM forms"""

# rule id -> statement that breaks only that rule, and the failing rows it must report
BREAKS = {
    "k.unique": ("UPDATE forms SET k = 1 WHERE k = 2", 2),
    "must.not_null": ("UPDATE forms SET must = NULL WHERE k = 1", 1),
    "also.not_null": ("UPDATE forms SET also = NULL WHERE k IN (1, 2)", 2),
    "colour.allowed_values": ("UPDATE forms SET colour = 'blue' WHERE k = 2", 1),
    "above.range": ("UPDATE forms SET above = 0 WHERE k = 1", 1),  # exclusive: the bound itself fails
    "below.range": ("UPDATE forms SET below = 10 WHERE k = 1", 1),
    "within.range": ("UPDATE forms SET within = 10.5 WHERE k = 1", 1),
}


@pytest.fixture
def contract(tmp_path: Path):
    path = tmp_path / "forms.odcs.yaml"
    path.write_text(textwrap.dedent(CONTRACT))
    contract, problems = load_contract(path, "sales/forms")
    assert problems == [] and contract
    return contract


def run(contract, *statements: str):
    con = duckdb.connect()
    con.execute(CLEAN)
    con.execute(TYPED)
    for statement in statements:
        con.execute(statement)
    rules, problems = compile_rules(contract, "sales/forms")
    assert problems == []
    return {r.rule.id: r for r in Validator(con, "forms", contract, "sales/forms@v1").run(rules).results}


def test_every_form_compiles_to_its_rule(contract):
    rules, _ = compile_rules(contract, "sales/forms")
    assert {r.id: r.kind for r in rules if r.kind != "column"} == {
        "k.unique": "unique",
        "must.not_null": "not_null",
        "also.not_null": "not_null",
        "colour.allowed_values": "allowed_values",
        "above.range": "range",
        "below.range": "range",
        "within.range": "range",
    }


def test_clean_data_with_nulls_passes_every_form(contract):
    # Two NULL keys are not duplicates; NULLs are inside every range and every value list.
    results = run(contract)
    assert [rid for rid, r in results.items() if not r.passed] == []


def test_inclusive_bounds_accept_the_bound_itself(contract):
    assert run(contract, "UPDATE forms SET within = 10 WHERE k = 1")["within.range"].passed
    assert run(contract, "UPDATE forms SET within = 0 WHERE k = 2")["within.range"].passed


@pytest.mark.parametrize("rule_id", list(BREAKS))
def test_each_form_fires_on_its_violation_only(contract, rule_id):
    statement, failing = BREAKS[rule_id]
    results = run(contract, statement)
    assert not results[rule_id].passed and results[rule_id].failing_rows == failing
    assert [rid for rid, r in results.items() if not r.passed] == [rule_id]


def test_a_composite_key_with_a_null_part_is_never_a_duplicate(tmp_path: Path):
    text = """
    apiVersion: v3.1.0
    kind: DataContract
    id: sales.pairs
    version: 1.0.0
    status: active
    schema:
      - name: pairs
        physicalType: table
        properties:
          - {name: a, physicalType: BIGINT, logicalType: integer, primaryKey: true, primaryKeyPosition: 1}
          - {name: b, physicalType: BIGINT, logicalType: integer, primaryKey: true, primaryKeyPosition: 2}
    """
    path = tmp_path / "pairs.odcs.yaml"
    path.write_text(textwrap.dedent(text))
    contract, problems = load_contract(path, "sales/pairs")
    assert problems == [] and contract
    rules, _ = compile_rules(contract, "sales/pairs")
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE pairs AS SELECT a::BIGINT AS a, b::BIGINT AS b "
        "FROM (VALUES (1, NULL), (1, NULL), (1, 2), (2, 2)) AS t(a, b)"
    )
    unique = [
        r for r in Validator(con, "pairs", contract, "sales/pairs@v1").run(rules).results if r.rule.kind == "unique"
    ]
    assert unique and all(r.passed for r in unique)
    con.execute("INSERT INTO pairs VALUES (1, 2)")
    unique = [
        r for r in Validator(con, "pairs", contract, "sales/pairs@v1").run(rules).results if r.rule.kind == "unique"
    ]
    assert [r.failing_rows for r in unique if not r.passed] == [2]
