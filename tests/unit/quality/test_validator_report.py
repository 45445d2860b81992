"""What a quality report says and shows: its words (what `mesh build` prints and the checks record), which
failures block, the samples of failing rows (at most five, PII redacted, JSON-friendly values), the
duplicated keys, a missing or mistyped column, and what a SQL or Python rule's result means."""

from __future__ import annotations

from pathlib import Path

import duckdb

from meshwork.model.rules import Rule
from meshwork.quality.validator import SAMPLE_ROWS, QualityReport, RuleResult, Validator
from tests.unit.model.test_rule_compilation import load

PROPS = """
- {name: id, physicalType: BIGINT, logicalType: integer}
- {name: email, physicalType: VARCHAR, logicalType: string, classification: pii}
- {name: note, physicalType: VARCHAR, logicalType: string}
- {name: score, physicalType: DOUBLE, logicalType: number}
- {name: day, physicalType: DATE, logicalType: date}
- {name: ok, physicalType: BOOLEAN, logicalType: boolean}
"""
TABLE = (
    "SELECT range::BIGINT AS id, 'u' || range || '@x.org' AS email, "
    "CASE WHEN range = 1 THEN 'call +44 20 7946 0958' WHEN range = 2 THEN NULL ELSE 'n' || range END AS note, "
    "CASE WHEN range = 0 THEN 'NaN'::DOUBLE ELSE range / 2 END AS score, DATE '2026-01-01' + range::INTEGER AS day, "
    "range % 2 = 0 AS ok FROM range(8)"
)


def check(tmp_path: Path, rules: list[Rule], table: str = TABLE, domain: str | None = None) -> QualityReport:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS {table}")
    return Validator(con, "t", load(tmp_path, PROPS), "sales/t@v1", domain=domain).run(rules)


def by_id(report: QualityReport) -> dict[str, RuleResult]:
    return {r.rule.id: r for r in report.results}


def test_a_failing_rows_sample_is_five_rows_redacted_and_json_friendly(tmp_path: Path):
    rule = Rule("id.range", "range", "'id' lies in […, 0]", columns=("id",), params={"min": None, "max": 0,
                "min_exclusive": False, "max_exclusive": False})  # fmt: skip
    result = by_id(check(tmp_path, [rule]))["id.range"]
    assert result.failing_rows == 7 and len(result.sample) == SAMPLE_ROWS == 5
    first, second, third = result.sample[:3]
    assert first == {"id": 1, "email": "***", "note": "***", "score": 0.5, "day": "2026-01-02", "ok": False}
    assert second == {"id": 2, "email": "***", "note": None, "score": 1.0, "day": "2026-01-03", "ok": True}
    assert third["note"] == "n3"  # text that is not PII stays readable


def test_a_nan_in_a_sample_is_null(tmp_path: Path):
    rule = Rule("id.range", "range", "x", columns=("id",), params={"min": 1, "max": None, "min_exclusive": False,
                "max_exclusive": False})  # fmt: skip
    (row,) = by_id(check(tmp_path, [rule]))["id.range"].sample
    assert row["id"] == 0 and row["score"] is None


def test_duplicated_keys_are_counted_and_shown_most_repeated_first(tmp_path: Path):
    table = (
        "SELECT * FROM (VALUES (1, 'a'), (1, 'b'), (2, 'c'), (2, 'd'), (2, 'e'), (3, 'f'), (NULL, 'g'), (NULL, 'h'))"
    )
    table = (
        "SELECT v.i::BIGINT AS id, v.e AS email, NULL AS note, 0.0 AS score, NULL::DATE AS day, true AS ok "
        f"{table} v(i, e)"
    )
    table = table.replace("SELECT * FROM (VALUES", "FROM (VALUES")
    result = by_id(check(tmp_path, [Rule("id.unique", "unique", "'id' is unique", columns=("id",))], table))[
        "id.unique"
    ]
    assert (result.passed, result.failing_rows, result.detail) == (False, 5, "2 duplicated key(s)")
    assert result.sample == [{"id": 2, "n": 3}, {"id": 1, "n": 2}]


def test_many_duplicated_keys_show_five_and_group_thousands(tmp_path: Path):
    table = (
        "SELECT (range % 1500)::BIGINT AS id, '' AS email, '' AS note, 0.0 AS score, NULL::DATE AS day, true AS ok "
        "FROM range(3001)"
    )
    result = by_id(check(tmp_path, [Rule("id.unique", "unique", "u", columns=("id",))], table))["id.unique"]
    assert (result.failing_rows, result.detail, len(result.sample)) == (3001, "1,500 duplicated key(s)", 5)
    assert result.sample[0] == {"id": 0, "n": 3}
    clean = by_id(check(tmp_path, [Rule("id.unique", "unique", "u", columns=("id",))]))["id.unique"]
    assert (clean.passed, clean.failing_rows, clean.detail, clean.sample) == (True, 0, "", [])


def test_a_missing_or_mistyped_column_fails_with_its_reason_and_its_rules_are_not_run(tmp_path: Path):
    table = "SELECT range::INTEGER AS id, '' AS email, 1.0 AS score, NULL::DATE AS day, true AS ok FROM range(3)"
    rules = [
        Rule("note.not_null", "not_null", "n", columns=("note",)),
        Rule("pair.unique", "unique", "p", columns=("id", "note")),
        Rule("email.not_null", "not_null", "e", columns=("email",)),
        Rule("rows", "row_count", "r", params={"ops": {"mustBe": 3}}),
    ]
    found = by_id(check(tmp_path, rules, table))
    column = {i: (r.passed, r.detail, r.rule.description) for i, r in found.items() if r.rule.kind == "column"}
    assert column == {
        "id.column": (False, "it is INTEGER", "column 'id' is present as BIGINT"),
        "email.column": (True, "", "column 'email' is present as VARCHAR"),
        "note.column": (False, "the column is missing from the produced data", "column 'note' is present as VARCHAR"),
        "score.column": (False, "it is DECIMAL(2,1)", "column 'score' is present as DOUBLE"),
        "day.column": (True, "", "column 'day' is present as DATE"),
        "ok.column": (True, "", "column 'ok' is present as BOOLEAN"),
    }
    not_run = (False, None, "not run: its column is missing")
    assert (
        found["note.not_null"].passed,
        found["note.not_null"].failing_rows,
        found["note.not_null"].detail,
    ) == not_run
    assert (found["pair.unique"].passed, found["pair.unique"].failing_rows, found["pair.unique"].detail) == not_run
    assert found["email.not_null"].passed and found["rows"].passed


def test_the_report_says_what_failed_and_only_errors_block(tmp_path: Path):
    rules = [
        Rule("id.not_null", "not_null", "'id' is never empty", columns=("id",)),
        Rule("note.not_null", "not_null", "'note' is never empty", "warn", columns=("note",)),
        Rule(
            "rows", "row_count", "the row count must be at least 1000", params={"ops": {"mustBeGreaterOrEqualTo": 1000}}
        ),
    ]
    report = check(tmp_path, rules)
    found = by_id(report)
    assert [r.rule.id for r in report.failures] == ["note.not_null", "rows"]
    assert not report.passed and found["rows"].blocks and not found["note.not_null"].blocks
    assert found["id.not_null"].describe() == "[ok] 'id' is never empty"
    assert found["note.not_null"].describe() == "[warning] 'note' is never empty, 1 failing row(s)"
    assert found["rows"].describe() == "[FAILED] the row count must be at least 1000 (it is 8)"
    assert report.describe().splitlines() == [
        "sales/t@v1: FAILED (8 rows, 9 rules)",
        "  [warning] 'note' is never empty, 1 failing row(s)",
        "  [FAILED] the row count must be at least 1000 (it is 8)",
        "  sample for 'note.not_null': "
        "[{'id': 2, 'email': '***', 'note': None, 'score': 1.0, 'day': '2026-01-03', 'ok': True}]",
    ]
    warned = check(tmp_path, rules[:2])
    assert warned.passed and warned.describe().splitlines()[0] == "sales/t@v1: passed (8 rows, 8 rules)"
    big = RuleResult(rules[0], False, 12345, detail="x")
    assert big.describe() == "[FAILED] 'id' is never empty, 12,345 failing row(s) (x)" and big.blocks


def sql(query: str, **ops) -> Rule:
    return Rule("q", "sql", "q", params={"query": query, "ops": ops or {"mustBe": 0}})


def test_a_sql_rules_value_is_compared_and_counted_when_it_is_a_whole_number(tmp_path: Path):
    found = by_id(check(tmp_path, [sql("SELECT count(*) FROM ${table} WHERE id > 4")]))["q"]
    assert (found.passed, found.failing_rows, found.detail) == (False, 3, "the query returned 3")
    found = by_id(check(tmp_path, [sql("SELECT avg(id) FROM ${table}", mustBeLessThan=4)]))["q"]
    assert (found.passed, found.failing_rows, found.detail) == (True, None, "")
    found = by_id(check(tmp_path, [sql("SELECT avg(id) FROM ${table}", mustBeLessThan=3)]))["q"]
    assert (found.passed, found.failing_rows, found.detail) == (False, None, "the query returned 3.5")
    found = by_id(check(tmp_path, [sql("SELECT count(*) FROM ${table} WHERE id > 9")]))["q"]
    assert (found.passed, found.failing_rows, found.detail) == (True, None, "")


def test_a_sql_rule_that_returns_no_number_fails_and_says_what_it_returned(tmp_path: Path):
    found = by_id(check(tmp_path, [sql("SELECT id FROM ${table} WHERE id > 100")]))["q"]
    assert (found.passed, found.detail) == (False, "the query returned None")
    found = by_id(check(tmp_path, [sql("SELECT note FROM ${table} WHERE id = 3")]))["q"]
    assert (found.passed, found.failing_rows, found.detail) == (False, None, "the query returned 'n3', not a number")


def test_a_sql_rule_the_gate_refuses_or_the_sandbox_cannot_run_is_a_failure_with_its_reason(tmp_path: Path):
    found = by_id(check(tmp_path, [sql("SELECT count(*) FROM ${table} JOIN other USING (id)")]))["q"]
    assert found.detail == (
        "not run: the query reads 'other', which is neither its product (${table}) nor a CTE of the query"
    )
    found = by_id(check(tmp_path, [sql("SELECT CAST(note AS INTEGER) FROM ${table}")]))["q"]
    assert found.passed is False and found.detail.startswith("the query failed: Conversion Error")


def test_a_python_rule_that_cannot_be_loaded_fails_and_names_it(tmp_path: Path):
    rule = Rule("p", "python", "p", params={"implementation": "checks:nowhere"})
    found = by_id(check(tmp_path, [rule], domain="sales"))["p"]
    assert (found.passed, found.detail) == (
        False,
        "cannot load checks:nowhere: module 'domains.sales.checks' has no attribute 'nowhere'",
    )
    rule = Rule("p", "python", "p", params={"implementation": "checks:positive_amounts:x"})
    assert by_id(check(tmp_path, [rule], domain="sales"))["p"].detail == (
        "cannot load checks:positive_amounts:x: module 'domains.sales.checks' has no attribute 'positive_amounts:x'"
    )
    rule = Rule("p", "python", "p", params={"implementation": "missing:f"})
    assert by_id(check(tmp_path, [rule], domain="sales"))["p"].detail == (
        "cannot load missing:f: No module named 'domains.sales.missing'"
    )


def test_a_python_rules_failures_are_counted_and_sampled_with_pii_redacted(tmp_path: Path):
    props = """
    - {name: quantity, physicalType: INTEGER, logicalType: integer, classification: pii}
    - {name: unit_price, physicalType: DOUBLE, logicalType: number}
    """
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT (range - 1)::INTEGER AS quantity, 1.5::DOUBLE AS unit_price FROM range(4)")
    rule = Rule("p", "python", "p", params={"implementation": "checks:positive_amounts"})
    report = Validator(con, "t", load(tmp_path, props), "sales/t@v1", domain="sales").run([rule])
    found = by_id(report)["p"]
    assert (found.passed, found.failing_rows) == (False, 2)
    assert found.sample == [{"quantity": "***"}, {"quantity": "***"}]
    con.execute("UPDATE t SET quantity = 5")
    found = by_id(Validator(con, "t", load(tmp_path, props), "sales/t@v1", domain="sales").run([rule]))["p"]
    assert (found.passed, found.failing_rows, found.sample) == (True, 0, [])


def test_a_sql_rules_decimal_value_is_a_number(tmp_path: Path):
    rule = sql("SELECT sum(CAST(id AS DECIMAL(10, 2))) FROM ${table}", mustBeLessThan=100)
    assert by_id(check(tmp_path, [rule]))["q"].passed
    rule = sql("SELECT sum(CAST(id AS DECIMAL(10, 2))) FROM ${table}", mustBeLessThan=20)
    found = by_id(check(tmp_path, [rule]))["q"]
    assert (found.passed, found.failing_rows, found.detail) == (False, None, "the query returned 28.00")


def test_the_run_time_gate_reads_the_rules_own_column_and_gives_every_reason(tmp_path: Path):
    query = "SELECT count(*) FROM ${table}, ${column}, other"
    rule = Rule("note.q", "sql", "q", columns=("note",), params={"query": query, "ops": {"mustBe": 0}})
    found = by_id(check(tmp_path, [rule]))["note.q"]
    neither = "which is neither its product (${table}) nor a CTE of the query"
    assert found.passed is False and found.blocks
    assert found.detail == f"not run: the query reads 'note', {neither}; reads 'other', {neither}"
