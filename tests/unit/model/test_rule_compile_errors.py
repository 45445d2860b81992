"""A rule Meshwork cannot enforce as written is a load problem naming the contract file, the field, the
product and the reason, and it compiles to no rule at all: never a check that quietly guards less."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.core.errors import Problem
from meshwork.model.rules import compile_rules
from tests.unit.model.test_rule_compilation import load

COLUMN = "- name: a\n  physicalType: VARCHAR\n  logicalType: string\n"
OTHER = "- {name: b, physicalType: BIGINT, logicalType: integer}"
FK_HELP = (
    "a foreign key points at another product's column with ODCS's fully qualified reference: "
    "<path to its contract>#/schema/<product>/properties/<column>, e.g. "
    "../../customers/contracts/customer_profiles.odcs.yaml#/schema/customer_profiles/properties/"
    "customer_id (`mesh upgrade` rewrites the older <domain>.<product>.<column> form)"
)
Q = "schema.0.properties.0.quality.0"

COLUMN_CASES = {
    "severity": (
        "quality: [{metric: nullValues, mustBe: 0, severity: catastrophic}]",
        f"{Q}.severity",
        "unknown severity 'catastrophic': use error or warn",
    ),
    "sql_without_table": (
        "quality: [{type: sql, query: 'SELECT count(*) FROM t', mustBe: 0}]",
        f"{Q}.query",
        "a SQL rule must read the product through ${table}",
    ),
    "sql_refused": (
        "quality: [{type: sql, name: steal, query: 'SELECT count(*) FROM ${table}, glob(''/x/*'')', mustBe: 0}]",
        f"{Q}.query",
        "SQL rule 'a.steal' reads the table function GLOB('/x/*'), not its table",
    ),
    "sql_column_as_a_table": (
        "quality: [{type: sql, name: odd, query: 'SELECT count(*) FROM ${table}, ${column}', mustBe: 0}]",
        f"{Q}.query",
        "SQL rule 'a.odd' reads 'a', which is neither its product (${table}) nor a CTE of the query",
    ),
    "custom_engine": (
        "quality: [{type: custom, engine: soda, implementation: 'checks:f'}]",
        Q,
        "a custom rule needs engine: pandera and implementation: '<module>:<function>' in the domain package",
    ),
    "custom_implementation": (
        "quality: [{type: custom, engine: pandera, implementation: 'checks.f'}]",
        Q,
        "a custom rule needs engine: pandera and implementation: '<module>:<function>' in the domain package",
    ),
    "custom_implementation_not_text": (
        "quality: [{type: custom, engine: pandera, implementation: {module: checks}}]",
        Q,
        "a custom rule needs engine: pandera and implementation: '<module>:<function>' in the domain package",
    ),
    "row_count_on_a_column": (
        "quality: [{metric: rowCount, mustBeGreaterThan: 0}]",
        Q,
        "rowCount is a schema-level rule with bounds (mustBeBetween, mustBeGreaterThan, …)",
    ),
    "not_no_failing_rows": (
        "quality: [{metric: nullValues, mustBeLessThan: 5}]",
        Q,
        "Meshwork enforces 'nullValues' as 'no failing rows' (mustBe: 0)",
    ),
    "must_be_one": (
        "quality: [{metric: duplicateValues, mustBe: 1}]",
        Q,
        "Meshwork enforces 'duplicateValues' as 'no failing rows' (mustBe: 0)",
    ),
    "invalid_values_without_arguments": (
        "quality: [{metric: invalidValues, mustBe: 0}]",
        f"{Q}.metric",
        "unsupported quality rule 'invalidValues' with arguments []",
    ),
    "invalid_values_other_arguments": (
        "quality: [{metric: invalidValues, arguments: {values: [1], max: 2}, mustBe: 0}]",
        f"{Q}.metric",
        "unsupported quality rule 'invalidValues' with arguments ['max', 'values']",
    ),
    "options_pattern": (
        "logicalTypeOptions: {pattern: '(['}",
        "schema.0.properties.0.logicalTypeOptions.pattern",
        "'([' is not a valid regular expression: unterminated character set at position 1",
    ),
    "arguments_pattern": (
        "quality: [{metric: invalidValues, arguments: {pattern: 'a)'}, mustBe: 0}]",
        f"{Q}.arguments.pattern",
        "'a)' is not a valid regular expression: unbalanced parenthesis at position 1",
    ),
    "old_foreign_key": (
        "relationships: [{type: foreignKey, to: customer_profiles.customer_id}]",
        "schema.0.properties.0.relationships.0.to",
        FK_HELP,
    ),
    "second_relationship": (
        "relationships:\n"
        "  - {to: 'orders.odcs.yaml#/schema/orders/properties/id'}\n"
        "  - {type: foreignKey, to: 'orders.odcs.yaml#/schema/invoices/properties/id'}",
        "schema.0.properties.0.relationships.1.to",
        FK_HELP,
    ),
    "first_relationship": (
        "relationships:\n"
        "  - {type: foreignKey, to: 'orders.odcs.yaml#/schema/invoices/properties/id'}\n"
        "  - {to: 'orders.odcs.yaml#/schema/orders/properties/id'}",
        "schema.0.properties.0.relationships.0.to",
        FK_HELP,
    ),
}


@pytest.mark.parametrize("case", list(COLUMN_CASES))
def test_a_column_rule_meshwork_cannot_enforce_is_a_problem_with_file_field_and_product(tmp_path: Path, case):
    snippet, field, reason = COLUMN_CASES[case]
    contract = load(tmp_path, COLUMN + "  " + snippet.replace("\n", "\n  ") + "\n" + OTHER)
    rules, problems = compile_rules(contract, "sales/t")
    assert problems == [Problem(reason, file=tmp_path / "t.odcs.yaml", field=field, product="sales/t")]
    # Nothing half-compiled: a bad rule is no rule (a bad pattern still names the rule it would be).
    expected = {"a.pattern"} if "pattern" in case else {"a.foreign_key"} if case.endswith("_relationship") else set()
    assert {r.id for r in rules} == expected


@pytest.mark.parametrize(
    "item, field, reason",
    [
        (
            "{metric: nullValues, mustBe: 0}",
            "schema.0.quality.1.metric",
            "'nullValues' applies to a column: declare it under that property's quality",
        ),
        (
            "{metric: rowCount, mustNotBe: 0}",
            "schema.0.quality.1",
            "rowCount is a schema-level rule with bounds (mustBeBetween, mustBeGreaterThan, …)",
        ),
        (
            "{type: sql, query: 'SELECT 1', mustBe: 0}",
            "schema.0.quality.1.query",
            "a SQL rule must read the product through ${table}",
        ),
        (
            "{type: sql, name: peek, query: 'SELECT count(*) FROM ${table} JOIN other USING (b)', mustBe: 0}",
            "schema.0.quality.1.query",
            "SQL rule 'peek' reads 'other', which is neither its product (${table}) nor a CTE of the query",
        ),
        (
            "{metric: rowCount, mustBeGreaterThan: 0, severity: fatal}",
            "schema.0.quality.1.severity",
            "unknown severity 'fatal': use error or warn",
        ),
    ],
)
def test_a_schema_rule_meshwork_cannot_enforce_is_a_problem_with_file_field_and_product(tmp_path, item, field, reason):
    contract = load(tmp_path, OTHER, f"- {{type: text, description: kept first}}\n- {item}")
    rules, problems = compile_rules(contract, "sales/t")
    assert problems == [Problem(reason, file=tmp_path / "t.odcs.yaml", field=field, product="sales/t")]
    assert rules == []


@pytest.mark.parametrize(
    "sla",
    [
        "{property: freshness, value: 2, unit: w, element: t.updated_at}",
        "{property: freshness, value: 2, element: t.updated_at}",
        "{property: freshness, value: 2, unit: d, element: t.created_at}",
        "{property: freshness, value: 2, unit: d}",
        "{property: freshness, value: two, unit: d, element: t.updated_at}",
    ],
)
def test_a_freshness_sla_meshwork_cannot_read_is_a_problem_naming_its_place(tmp_path: Path, sla):
    contract = load(
        tmp_path,
        "- {name: updated_at, physicalType: TIMESTAMP, logicalType: timestamp}",
        tail=f"slaProperties:\n  - {{property: latency, value: 1, unit: d}}\n  - {sla}\n",
    )
    rules, problems = compile_rules(contract, "sales/t")
    reason = "freshness needs value, unit (m, h or d) and element: <table>.<timestamp column>"
    assert problems == [Problem(reason, file=tmp_path / "t.odcs.yaml", field="slaProperties.1", product="sales/t")]
    assert rules == []


def test_two_rules_with_one_id_are_a_problem_naming_each_shared_id(tmp_path: Path):
    contract = load(
        tmp_path,
        """
        - name: b
          physicalType: BIGINT
          logicalType: integer
          unique: true
          required: true
          quality: [{metric: duplicateValues, mustBe: 0}, {metric: nullValues, mustBe: 0}]
        - name: a
          physicalType: BIGINT
          logicalType: integer
          unique: true
          quality: [{metric: duplicateValues, mustBe: 0}]
        """,
    )
    _, problems = compile_rules(contract, "sales/t")
    assert [(p.field, p.reason, p.file, p.product) for p in problems] == [
        (
            "quality",
            f"two rules share the id '{i}'; give one of them a distinct 'name'",
            tmp_path / "t.odcs.yaml",
            "sales/t",
        )
        for i in ("a.unique", "b.not_null", "b.unique")
    ]
