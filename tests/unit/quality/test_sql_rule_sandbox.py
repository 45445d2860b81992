"""A SQL rule that got past the static gate still reads only its table and writes nothing, anywhere.

Real files in tmp_path: the domain's warehouse, another domain's port file and warehouse. The hostile
statements are sent to the sandbox directly, as a contract edited after load or a gap in the gate
would send them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from meshwork.core import settings
from meshwork.model.contracts import load_contract
from meshwork.model.rules import Rule, compile_rules
from meshwork.quality import sandbox
from meshwork.quality.validator import Validator

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
      - {type: sql, name: no_refunds_above_100, query: "SELECT count(*) FROM ${table} WHERE amount < -100", mustBe: 0}
    properties:
      - name: amount
        physicalType: DOUBLE
        logicalType: number
        quality:
          - {type: sql, name: no_negative, query: "SELECT count(*) FROM ${table} WHERE ${column} < 0", mustBe: 0}
      - {name: id, physicalType: BIGINT, logicalType: integer}
      - {name: ref, physicalType: UUID, logicalType: string}
"""


@pytest.fixture
def warehouse(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "sales.duckdb"))
    con.execute(
        "CREATE TABLE items AS SELECT range AS id, (range * 1.5)::DOUBLE AS amount, uuid() AS ref FROM range(1000)"
    )
    con.execute("CREATE TEMP VIEW items_v1 AS SELECT * FROM items")
    yield con
    con.close()


@pytest.fixture
def others(tmp_path: Path) -> dict[str, Path]:
    """Another domain's port file and private warehouse, with PII in them."""
    ports = tmp_path / "ports" / "customers"
    ports.mkdir(parents=True)
    con = duckdb.connect(str(tmp_path / "customers.duckdb"))
    con.execute("CREATE TABLE profiles AS SELECT 'jo@example.org' AS email")
    con.execute(f"COPY profiles TO '{ports / 'part-0.parquet'}' (FORMAT parquet)")
    con.close()
    return {"port": ports / "part-0.parquet", "warehouse": tmp_path / "customers.duckdb"}


@pytest.fixture
def snapshot(warehouse):
    with sandbox.Snapshot(warehouse, "items_v1") as snap:
        yield snap


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own, so a relative path a rule writes would show up in tmp_path."""
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    return here


def files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def types_of(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def test_the_sandbox_refuses_every_file_read_write_and_setting_and_writes_nothing(
    tmp_path: Path, cwd: Path, warehouse, others, snapshot
):
    data = snapshot.path
    before = files(tmp_path)
    con = sandbox.connect(data, types_of(warehouse, "items_v1"))
    refused = {
        f"COPY (SELECT * FROM product) TO '{tmp_path}/loot.csv'": "Permission Error",
        "COPY (SELECT * FROM product) TO 'loot.csv'": "Permission Error",
        # The export itself is not writable either (DuckDB was never given its path).
        f"COPY (SELECT 0 AS amount) TO '{data}' (FORMAT csv, USE_TMP_FILE false)": "Permission Error",
        f"SELECT * FROM read_parquet('{others['port']}')": "Permission Error",
        f"SELECT * FROM '{others['port']}'": "Permission Error",
        f"SELECT * FROM read_parquet('{data}')": "Permission Error",
        f"ATTACH '{others['warehouse']}' AS w": "Permission Error",
        f"ATTACH '{tmp_path}/new.duckdb' AS n": "Permission Error",
        f"EXPORT DATABASE '{tmp_path}/dump'": "Permission Error",
        "SELECT * FROM read_csv('/etc/passwd')": "Permission Error",
        "INSTALL httpfs": "Permission Error",
        "LOAD httpfs": "Permission Error",
        "SET enable_external_access = true": "configuration has been locked",
        "SET allowed_paths = ['/']": "configuration has been locked",
        "RESET lock_configuration": "configuration has been locked",
    }
    try:
        for statement, error in refused.items():
            with pytest.raises(duckdb.Error, match=error):
                con.execute(statement)
        assert con.execute("SELECT count(*) FROM product").fetchone() == (1000,)  # still serves its own table
    finally:
        con.close()
    assert files(tmp_path) == before  # not the loot, not a WAL, not a spill file, not the export
    assert not (tmp_path / "loot.csv").exists() and not (cwd / "loot.csv").exists()


def test_a_smuggled_read_fails_the_rule_with_the_reason(warehouse, others, snapshot):
    query = f"SELECT count(*) FROM read_parquet('{others['port']}') WHERE email LIKE '%@%'"
    with pytest.raises(sandbox.SandboxError, match="tried to read or write a file it was not given"):
        sandbox.run(query, snapshot.path, types_of(warehouse, "items_v1"), timeout=30)
    with pytest.raises(sandbox.SandboxError, match="one SELECT, DuckDB reads COPY"):
        sandbox.run("COPY product TO 'loot.csv'", snapshot.path, {}, timeout=30)


def test_each_rule_gets_a_fresh_sandbox_one_cannot_tamper_with_the_next(warehouse, snapshot):
    types = types_of(warehouse, "items_v1")
    con = sandbox.connect(snapshot.path, types)
    con.execute("DROP VIEW product")
    con.execute("CREATE VIEW product AS SELECT 0 AS amount")
    con.close()
    assert sandbox.run("SELECT count(*) FROM product", snapshot.path, types, timeout=30) == 1000


def test_the_rule_sees_the_validated_tables_types(warehouse, snapshot):
    types = types_of(warehouse, "items_v1")
    query = "SELECT typeof(id) || ' ' || typeof(amount) || ' ' || typeof(ref) FROM product LIMIT 1"
    assert sandbox.run(query, snapshot.path, types, timeout=30) == "BIGINT DOUBLE UUID"  # UUID survives Arrow


def test_the_export_is_made_once_and_removed_on_close(warehouse):
    snap = sandbox.Snapshot(warehouse, "items_v1")
    assert snap.folder is None  # nothing exported until a rule asks
    first = snap.path
    assert snap.path == first and oct(first.parent.stat().st_mode & 0o777) == "0o700"
    assert list(settings.duckdb_temp_dir().iterdir()) == [first.parent]
    snap.close()
    assert not first.parent.exists() and list(settings.duckdb_temp_dir().iterdir()) == []


@pytest.fixture
def contract(tmp_path: Path):
    path = tmp_path / "items.odcs.yaml"
    path.write_text(textwrap.dedent(CONTRACT))
    contract, problems = load_contract(path, "sales/items")
    assert contract and not problems
    return contract


def check(warehouse, contract, extra: list[Rule] = ()):
    rules, problems = compile_rules(contract, "sales/items")
    assert not problems
    return Validator(warehouse, "items_v1", contract, "sales/items@v1").run([*rules, *extra])


def test_legitimate_rules_pass_and_fail_with_their_value_and_the_export_is_removed(warehouse, contract):
    report = check(warehouse, contract)
    assert report.passed, report.describe()
    warehouse.execute("UPDATE items SET amount = -1 WHERE id IN (1, 2, 3)")
    report = check(warehouse, contract)
    (failure,) = report.failures
    assert failure.rule.id == "amount.no_negative" and failure.failing_rows == 3
    assert failure.detail == "the query returned 3" and failure.blocks
    assert list(settings.duckdb_temp_dir().iterdir()) == []  # the private export folder is gone


def test_a_contract_without_sql_rules_exports_nothing(warehouse, tmp_path: Path):
    path = tmp_path / "plain.odcs.yaml"
    lines = textwrap.dedent(CONTRACT).splitlines()
    path.write_text("\n".join(line for line in lines if "quality:" not in line and "type: sql" not in line))
    contract, _ = load_contract(path, "sales/items")
    assert contract is not None and not any(r.kind == "sql" for r in compile_rules(contract, "sales/items")[0])
    assert check(warehouse, contract).passed
    assert not settings.duckdb_temp_dir().exists()


def test_a_hostile_rule_smuggled_past_load_fails_and_writes_nothing(tmp_path: Path, cwd: Path, warehouse, contract):
    queries = {"steal": "COPY (SELECT * FROM ${table}) TO 'loot.csv'", "peek": "SELECT count(*) FROM w.main.profiles"}
    smuggled = [Rule(name, "sql", name, params={"query": q, "ops": {"mustBe": 1}}) for name, q in queries.items()]
    before = files(tmp_path)
    report = check(warehouse, contract, smuggled)
    failed = {r.rule.id: r.detail for r in report.failures}
    assert failed["steal"] == "not run: the query must be a query (SELECT …), not COPY"
    assert failed["peek"].startswith("not run: the query reads w.main.profiles")
    assert not report.passed
    assert files(tmp_path) == before


@pytest.mark.timeout(60)  # a broken timer would hang here, not fail
def test_a_rule_that_runs_too_long_is_stopped_and_fails(warehouse, contract, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MESH_SQL_RULE_TIMEOUT", "0.5")
    slow = Rule(
        "slow",
        "sql",
        "slow",
        params={"query": "SELECT count(*) FROM ${table} a, ${table} b, ${table} c, ${table} d", "ops": {"mustBe": 0}},
    )
    report = check(warehouse, contract, [slow])
    (failure,) = report.failures
    assert failure.rule.id == "slow" and failure.detail == "the rule ran longer than 0.5s and was stopped"
