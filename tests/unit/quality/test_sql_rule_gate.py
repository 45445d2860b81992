"""A contract's ``type: sql`` rule may read its own table and nothing else: refused at load, with file, rule and why."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from meshwork.governance.validation import validate_project
from meshwork.model.contracts import load_contract
from meshwork.model.rules import compile_rules
from meshwork.model.sql_rules import problems

REFUSED = {
    "copy": ("COPY (SELECT * FROM ${table}) TO 'x.csv'", "not COPY"),
    "attach": ("ATTACH '/mesh/warehouses/customers.duckdb' AS w", "not ATTACH"),
    "read_parquet": ("SELECT count(*) FROM read_parquet('/etc/x.parquet')", "table function READ_PARQUET"),
    "read_csv_in_subquery": (
        "SELECT count(*) FROM ${table} WHERE id IN (SELECT id FROM read_csv('/x.csv'))",
        "table function READ_CSV",
    ),
    "glob": ("SELECT count(*) FROM ${table}, glob('/mesh/ports/*')", "table function GLOB"),
    "file_as_table": ("SELECT count(*) FROM '/tmp/x.parquet'", "reads the file '/tmp/x.parquet'"),
    "other_database": ("SELECT count(*) FROM other_db.main.t", "may not name a schema or another database"),
    "other_schema": ("SELECT count(*) FROM information_schema.tables", "may not name a schema"),
    "two_statements": ("SELECT 1; SELECT 2", "exactly one query, not 2 statements"),
    "pragma": ("PRAGMA database_list", "not PRAGMA"),
    "set": ("SET enable_external_access = true", "not SET"),
    "install": ("INSTALL httpfs", "not INSTALL"),
    "load": ("LOAD httpfs", "not LOAD"),
    "create": ("CREATE TABLE loot AS SELECT * FROM ${table}", "not CREATE"),
    "insert_in_cte": ("WITH w AS (INSERT INTO t VALUES (1) RETURNING *) SELECT count(*) FROM w", "contains INSERT"),
    "select_into": ("SELECT * INTO loot FROM ${table}", "contains INTO"),
    "unknown_table": ("SELECT count(*) FROM customer_profiles", "reads 'customer_profiles', which is neither"),
    "unparseable": ("SELECT count(* FROM ${table}", "cannot be parsed"),
    "empty": ("", "exactly one query, not 0 statements"),
}

ACCEPTED = [
    "SELECT count(*) FROM ${table} WHERE amount < 0",
    "SELECT count(*) FROM ${object} WHERE amount < 0",
    "WITH neg AS (SELECT * FROM ${table} WHERE amount < 0) SELECT count(*) FROM neg",
    "SELECT count(*) FROM (SELECT ${column} FROM ${table} WHERE ${column} IS NULL) AS sub",
    "SELECT count(*) FROM ${table} WHERE ${column} > (SELECT avg(${column}) * 10 FROM ${table})",
    "SELECT count(*) FROM ${table} a JOIN ${table} b ON a.id = b.id AND a.amount <> b.amount",
    "SELECT (SELECT count(*) FROM ${table} WHERE amount < 0) + (SELECT count(*) FROM ${table} WHERE amount > 1e9)",
]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_gate_refuses_anything_but_one_query_over_its_own_table(case):
    query, reason = REFUSED[case]
    found = problems(query, column="amount")
    assert any(reason in p for p in found), found


@pytest.mark.parametrize("query", ACCEPTED)
def test_the_gate_accepts_queries_over_the_product_its_ctes_and_subqueries(query):
    assert problems(query, column="amount") == []


def test_other_readable_names_must_be_given_explicitly():
    assert problems("SELECT count(*) FROM ${table} JOIN lookup USING (id)", allowed={"lookup"}) == []
    assert problems("SELECT count(*) FROM ${table} JOIN lookup USING (id)") != []


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
      - type: sql
        name: steal
        query: "COPY (SELECT * FROM ${table}, read_parquet('/mesh/ports/customers/*.parquet')) TO 'loot.csv'"
        mustBe: 0
      - type: sql
        description: peek at the customers warehouse
        query: "SELECT count(*) FROM ${table} JOIN w.main.customer_profiles USING (id)"
        mustBe: 0
      - type: sql
        name: fine
        query: "SELECT count(*) FROM ${table} WHERE id < 0"
        mustBe: 0
    properties:
      - name: id
        physicalType: BIGINT
        logicalType: integer
        quality:
          - {type: sql, name: also_fine, query: "SELECT count(*) FROM ${table} WHERE ${column} > 10", mustBe: 0}
"""


def test_a_refused_rule_is_a_load_problem_naming_file_field_rule_and_reason(tmp_path: Path):
    path = tmp_path / "items.odcs.yaml"
    path.write_text(textwrap.dedent(CONTRACT))
    contract, load_problems = load_contract(path, "sales/items")
    assert contract and not load_problems
    rules, found = compile_rules(contract, "sales/items")
    messages = [str(p) for p in found]
    assert len(messages) == 2, messages
    steal, peek = messages
    assert str(path) in steal and "schema.0.quality.0.query" in steal
    assert "SQL rule 'steal' must be a query (SELECT …), not COPY" in steal
    assert str(path) in peek and "schema.0.quality.1.query" in peek
    assert "SQL rule 'sql_" in peek and "reads w.main.customer_profiles" in peek  # unnamed: its stable id
    # The refused rules are not compiled; the legitimate ones are.
    assert {r.id for r in rules if r.kind == "sql"} == {"fine", "id.also_fine"}


def test_mesh_check_reports_a_hostile_sql_rule_in_a_domain_contract(project: Path):
    contract = project / "domains/support/contracts/tickets.odcs.yaml"
    text = contract.read_text()
    old = "      - {type: library, metric: rowCount, mustBeGreaterThan: 0"
    assert old in text
    hostile = (
        "      - type: sql\n"
        "        name: exfiltrate\n"
        # The attacker satisfies the "reads ${table}" check: the gate still refuses the COPY.
        "        query: \"COPY (SELECT * FROM ${table}, read_parquet('../customers/*.parquet')) TO 'loot.csv'\"\n"
        "        mustBe: 0\n"
    )
    contract.write_text(text.replace(old, hostile + old))
    report = validate_project(project, policies=False, manifest=dict)
    assert not report.ok
    assert any(
        "tickets.odcs.yaml" in p and "SQL rule 'exfiltrate' must be a query (SELECT …), not COPY" in p
        for p in report.problems
    ), report.problems
