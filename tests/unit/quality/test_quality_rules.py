"""Every contract rule type passes on clean data and fires on an injected violation, in DuckDB."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from meshwork.model.contracts import load_contract
from meshwork.model.rules import compile_rules
from meshwork.quality.validator import REDACTED, QualityReport, Validator

CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: sales.items
version: 1.0.0
status: active
schema:
  - name: items
    physicalType: table
    quality:
      - {type: library, metric: rowCount, mustBeBetween: [1, 1000]}
      - type: sql
        name: no_big_new_items
        query: "SELECT count(*) FROM ${table} WHERE qty > 50 AND status = 'new'"
        mustBe: 0
      - {type: custom, engine: pandera, implementation: "checks:positive_amounts", name: positive_amounts}
    properties:
      - {name: id, physicalType: BIGINT, logicalType: integer, primaryKey: true, required: true, unique: true}
      - name: code
        physicalType: VARCHAR
        logicalType: string
        logicalTypeOptions: {pattern: "^[A-Z]{3}-[0-9]{3}$", minLength: 7, maxLength: 7}
      - name: qty
        physicalType: INTEGER
        logicalType: integer
        logicalTypeOptions: {minimum: 1, maximum: 100}
      - name: status
        physicalType: VARCHAR
        logicalType: string
        quality: [{metric: invalidValues, arguments: {validValues: [new, done]}, mustBe: 0}]
      - name: email
        physicalType: VARCHAR
        logicalType: string
        classification: pii
        quality:
          - {type: library, metric: invalidValues, arguments: {pattern: "^[^@]+@[^@]+$"}, mustBe: 0, severity: warn}
      - name: customer_id
        physicalType: BIGINT
        logicalType: integer
        relationships:
          - type: foreignKey
            to: "../../customers/contracts/customer_profiles.odcs.yaml#/schema/customer_profiles/properties/customer_id"
      - {name: updated_at, physicalType: TIMESTAMP, logicalType: timestamp}
      - {name: quantity, physicalType: INTEGER, logicalType: integer}
      - {name: unit_price, physicalType: "DECIMAL(12,2)", logicalType: number}
      - {name: note, physicalType: VARCHAR, logicalType: string, classification: public}
slaProperties:
  - {property: freshness, value: 2, unit: d, element: items.updated_at}
"""

CLEAN = """
    CREATE OR REPLACE TABLE items AS
    SELECT range AS id,
           'ABC-' || lpad((range % 1000)::VARCHAR, 3, '0') AS code,
           (1 + range % 50)::INTEGER AS qty,
           CASE WHEN range % 2 = 0 THEN 'new' ELSE 'done' END AS status,
           'user' || range || '@example.com' AS email,
           (range % 10)::BIGINT AS customer_id,
           now()::TIMESTAMP - INTERVAL 1 HOUR AS updated_at,
           (1 + range % 3)::INTEGER AS quantity,
           CAST(9.99 AS DECIMAL(12,2)) AS unit_price,
           'delivered to door ' || range AS note
    FROM range(200)
"""

# rule id -> (statement that breaks only that rule, failing rows expected or None when not row-based)
VIOLATIONS = {
    "id.not_null": ("UPDATE items SET id = NULL WHERE id = 3", 1),
    "id.unique": ("UPDATE items SET id = 7 WHERE id IN (8, 9)", 3),
    "code.pattern": ("UPDATE items SET code = 'AB1-000' WHERE id < 4", 4),
    "code.length": ("UPDATE items SET code = 'ABC-0000' WHERE id = 5", 1),
    "qty.range": ("UPDATE items SET qty = 101 WHERE id IN (1, 2)", 2),
    "status.allowed_values": ("UPDATE items SET status = 'lost' WHERE id = 11", 1),
    "customer_id.foreign_key": ("UPDATE items SET customer_id = 99 WHERE id IN (20, 21, 22)", 3),
    "updated_at.freshness": ("UPDATE items SET updated_at = TIMESTAMP '2020-01-01'", None),
    "row_count": ("DELETE FROM items", None),
    "no_big_new_items": ("UPDATE items SET qty = 60 WHERE id = 10", 1),
    "positive_amounts": ("UPDATE items SET quantity = 0 WHERE id IN (1, 3, 5)", 3),
    "email.pattern": ("UPDATE items SET email = 'nobody' WHERE id = 1", 1),
    "note.no_pii": (
        "UPDATE items SET note = CASE id WHEN 1 THEN 'write to jo.doe@example.org' ELSE 'call +44 20 7946 0958' END "
        "WHERE id IN (1, 2)",
        2,
    ),
}


@pytest.fixture
def contract(tmp_path: Path):
    path = tmp_path / "items.odcs.yaml"
    path.write_text(textwrap.dedent(CONTRACT))
    contract, problems = load_contract(path, "sales/items")
    assert problems == [] and contract
    return contract


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(CLEAN)
    con.execute("CREATE TABLE customer_port AS SELECT range::BIGINT AS customer_id FROM range(10)")
    yield con
    con.close()


def validate(con, contract) -> QualityReport:
    rules, problems = compile_rules(contract, "sales/items")
    assert problems == []
    return Validator(con, "items", contract, "sales/items@v1", lambda key: "customer_port", domain="sales").run(rules)


def test_the_contract_compiles_to_every_rule_type(contract):
    rules, _ = compile_rules(contract, "sales/items")
    kinds = {r.kind for r in rules}
    assert kinds == {
        "not_null",
        "unique",
        "range",
        "length",
        "pattern",
        "allowed_values",
        "row_count",
        "freshness",
        "foreign_key",
        "sql",
        "python",
        "no_pii",
    }


def test_clean_data_passes_every_rule(con, contract):
    report = validate(con, contract)
    assert report.passed, report.describe()
    assert report.failures == []
    assert report.row_count == 200


@pytest.mark.parametrize("rule_id", sorted(VIOLATIONS))
def test_each_rule_fires_on_its_injected_violation(rule_id, con, contract):
    statement, expected_rows = VIOLATIONS[rule_id]
    con.execute(statement)
    report = validate(con, contract)
    failed = {r.rule.id: r for r in report.failures}
    assert rule_id in failed, report.describe()
    if expected_rows is not None:
        assert failed[rule_id].failing_rows == expected_rows, failed[rule_id].describe()
    if rule_id == "note.no_pii":  # the offending text is PII: its sample must not repeat it
        assert "example.org" not in str(failed[rule_id].sample) and "7946" not in str(failed[rule_id].sample)
        assert failed[rule_id].sample
    if rule_id == "email.pattern":  # severity warn: recorded, but does not block publishing
        assert report.passed and not failed[rule_id].blocks
    else:
        assert not report.passed and failed[rule_id].blocks


@pytest.mark.parametrize(
    "statement, rule_id",
    [
        ("ALTER TABLE items DROP COLUMN status", "status.column"),
        ("ALTER TABLE items ALTER COLUMN qty TYPE VARCHAR", "qty.column"),
    ],
)
def test_a_missing_or_mistyped_column_fails_and_its_rules_do_not_pretend_to_pass(statement, rule_id, con, contract):
    con.execute(statement)
    report = validate(con, contract)
    failed = {r.rule.id for r in report.failures}
    assert rule_id in failed and not report.passed
    if rule_id == "status.column":
        assert "status.allowed_values" in failed  # reported as not run, not as passed


def test_a_composite_primary_key_duplicate_is_caught(tmp_path: Path):
    path = tmp_path / "lines.odcs.yaml"
    path.write_text(
        textwrap.dedent("""
        apiVersion: v3.1.0
        kind: DataContract
        id: sales.lines
        version: 1.0.0
        status: active
        schema:
          - name: lines
            properties:
              - {name: order_id, physicalType: BIGINT, logicalType: integer, primaryKey: true, primaryKeyPosition: 1}
              - {name: line_no, physicalType: INTEGER, logicalType: integer, primaryKey: true, primaryKeyPosition: 2}
    """)
    )
    contract, _ = load_contract(path, "sales/lines")
    con = duckdb.connect()
    con.execute("CREATE TABLE lines AS SELECT range // 3 AS order_id, (range % 3)::INTEGER AS line_no FROM range(30)")
    rules, _ = compile_rules(contract, "sales/lines")
    assert Validator(con, "lines", contract, "sales/lines@v1").run(rules).passed
    con.execute("INSERT INTO lines VALUES (4, 1)")  # same key as an existing line; each column alone repeats
    report = Validator(con, "lines", contract, "sales/lines@v1").run(rules)
    (failure,) = report.failures
    assert failure.rule.id == "primary_key.unique" and failure.failing_rows == 2


def test_samples_of_failing_rows_never_show_pii_in_clear(con, contract):
    con.execute("UPDATE items SET status = 'lost' WHERE id < 3")
    report = validate(con, contract)
    (failure,) = [r for r in report.failures if r.rule.id == "status.allowed_values"]
    assert len(failure.sample) == 3
    for row in failure.sample:
        assert row["email"] == REDACTED
        assert row["status"] == "lost"  # non-PII columns stay readable
    assert "@example.com" not in report.describe()


def test_a_property_without_logical_type_gets_a_clear_error(tmp_path: Path):
    path = tmp_path / "t.odcs.yaml"
    path.write_text(
        "apiVersion: v3.1.0\nkind: DataContract\nid: a.t\nversion: 1.0.0\nstatus: active\n"
        "schema:\n  - name: t\n    properties:\n      - {name: a, physicalType: VARCHAR}\n"
    )
    _, problems = load_contract(path, "a/t")
    assert [p.field for p in problems] == ["schema.0.properties.0.logicalType"]


def test_rule_values_are_bound_parameters_not_sql(con, tmp_path: Path):
    path = tmp_path / "items.odcs.yaml"
    path.write_text(
        textwrap.dedent(CONTRACT).replace("validValues: [new, done]", 'validValues: ["new\'); DROP TABLE items; --"]')
    )
    contract, _ = load_contract(path, "sales/items")
    report = validate(con, contract)
    assert {r.rule.id for r in report.failures} >= {"status.allowed_values"}
    assert con.execute("SELECT count(*) FROM items").fetchall() == [(200,)]


@pytest.mark.parametrize(
    "snippet, reason",
    [
        ("quality: [{type: library, metric: rowCount, mustBeBetween: [1, 1000]}]", "rowCount is a schema-level rule"),
        (
            "quality: [{type: library, metric: invalidValues, arguments: {pattern: '(['}, mustBe: 0}]",
            "not a valid regular expression",
        ),
        ("quality: [{type: sql, query: 'SELECT 1', mustBe: 0}]", "must read the product through ${table}"),
        ("quality: [{type: library, metric: nullValues, mustBe: 0, severity: catastrophic}]", "unknown severity"),
        ("relationships: [{type: foreignKey, to: customer_profiles.customer_id}]", "<domain>.<product>.<column>"),
    ],
)
def test_a_malformed_rule_is_a_load_error_with_file_and_field(snippet, reason, tmp_path: Path):
    path = tmp_path / "bad.odcs.yaml"
    path.write_text(
        textwrap.dedent(f"""
        apiVersion: v3.1.0
        kind: DataContract
        id: sales.bad
        version: 1.0.0
        status: active
        schema:
          - name: bad
            properties:
              - name: a
                physicalType: VARCHAR
                logicalType: string
                {snippet}
    """)
    )
    contract, problems = load_contract(path, "sales/bad")
    assert contract and not problems
    _, problems = compile_rules(contract, "sales/bad")
    assert any(reason in p.reason and str(path) in str(p) and "schema.0.properties.0" in str(p) for p in problems), (
        problems
    )


def test_a_public_text_column_may_opt_out_of_the_pii_scan(tmp_path: Path):
    path = tmp_path / "c.odcs.yaml"
    path.write_text(
        textwrap.dedent(CONTRACT).replace(
            "{name: note, physicalType: VARCHAR, logicalType: string, classification: public}",
            "{name: note, physicalType: VARCHAR, logicalType: string, classification: public, "
            "customProperties: [{property: piiScan, value: false}]}",
        )
    )
    contract, _ = load_contract(path, "sales/items")
    assert contract is not None
    ids = {r.id for r in compile_rules(contract, "sales/items")[0]}
    assert "note.no_pii" not in ids and "code.no_pii" not in ids  # code is unclassified: not scanned either
