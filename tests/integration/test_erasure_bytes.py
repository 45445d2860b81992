"""After `mesh erase`, no byte under MESH_HOME holds the subject: raw bytes of every file, and what files hold
compressed (Parquet pages and DuckDB blocks read back through DuckDB, gzip content, zlib values in SQLite).

The values searched for: the subject's e-mail, phone and street (distinctive: no other customer has them,
checked first), its ticket ids, and its id wherever a name says it is one (``customer_id=42``,
``'customer_id': 42``, ``"customer_id": 42``). A bare number cannot be searched for in bytes; rows holding
the id are found through DuckDB instead, in every table and every Parquet file.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit
from tests.conftest import mesh_cli

pytestmark = pytest.mark.slow


def files_under(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file() and not p.is_symlink())


def contents(path: Path) -> Iterator[bytes]:
    """The file's raw bytes, then whatever it holds compressed in a form read without DuckDB."""
    data = path.read_bytes()
    yield data
    if data[:2] == b"\x1f\x8b":
        yield gzip.decompress(data)
    if data.startswith(b"SQLite format 3\x00"):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for column in [r[1] for r in con.execute(f'PRAGMA table_info("{table}")').fetchall()]:
                for (value,) in con.execute(f'SELECT "{column}" FROM "{table}" WHERE typeof("{column}") = \'blob\''):
                    try:
                        inner = zlib.decompress(value)
                    except zlib.error:  # not every blob is compressed
                        continue
                    yield inner
        con.close()


def relations(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[str]:
    """SQL relations over the decompressed rows of a Parquet file or of every table of a DuckDB file."""
    head = path.read_bytes()[:16]
    if head.startswith(b"PAR1"):
        yield f"read_parquet('{path}')"
    elif head[8:12] == b"DUCK":
        alias = f"db{abs(hash(path))}"
        con.execute(f"ATTACH '{path}' AS {alias} (READ_ONLY)")
        for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [alias]
        ).fetchall():
            yield f'{alias}."{schema}"."{table}"'


class Subject:
    def __init__(self, home: Path, customer_id: int):
        con = duckdb.connect()
        src = home / "sources"
        self.id = customer_id
        row = con.execute(
            f"SELECT email, phone, street FROM read_csv('{src}/crm/customers/*.csv', all_varchar = true) "
            "WHERE customer_id = ?",
            [str(customer_id)],
        ).fetchall()[0]
        self.email, self.phone, self.street = row
        self.tickets = [
            r[0]
            for r in con.execute(
                f"SELECT ticket_id FROM read_json('{src}/helpdesk/tickets/*.jsonl') WHERE customer_id = ?",
                [customer_id],
            ).fetchall()
        ]
        self.orders = [
            r[0]
            for r in con.execute(
                f"SELECT order_id FROM '{src}/shop/orders/*.parquet' WHERE customer_id = ?", [customer_id]
            ).fetchall()
        ]
        self.values = [self.email, self.phone, self.street, *self.tickets]
        self.keyed = re.compile(rf"customer_id\W{{0,4}}[:=]\W{{0,3}}{customer_id}(?![\w.])".encode(), re.IGNORECASE)

    def in_bytes(self, data: bytes) -> list[str]:
        low = data.lower()
        found = [v for v in self.values if v.lower().encode() in low]
        return found + (["customer_id=…"] if self.keyed.search(data) else [])

    def in_rows(self, con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        checks = [f"contains(lower(CAST(t AS VARCHAR)), '{v.lower()}')" for v in self.values]
        if "customer_id" in columns:
            checks.append(f"CAST(customer_id AS VARCHAR) = '{self.id}'")
        if "order_id" in columns:
            checks.append(f"list_contains({self.orders}, CAST(order_id AS BIGINT))")
        n = con.execute(f"SELECT count(*) FROM {relation} t WHERE {' OR '.join(checks)}").fetchall()[0][0]
        return [f"{n} row(s) in {relation}"] if n else []


def where_the_subject_is(home: Path, subject: Subject) -> dict[str, list[str]]:
    """Every file under ``home`` holding something of the subject, and what."""
    found: dict[str, list[str]] = {}
    con = duckdb.connect()
    for path in files_under(home):
        hits = [hit for data in contents(path) for hit in subject.in_bytes(data)]
        hits += [hit for rel in relations(con, path) for hit in subject.in_rows(con, rel)]
        if hits:
            found[str(path.relative_to(home))] = hits
    return found


def events_per_run() -> dict[str, int]:
    """How many event records Dagster reads back for each run of the instance (its public API), asked
    in a process of its own so that no connection of this one keeps SQLite files open afterwards."""
    code = (
        "import json, dagster as dg\n"
        "with dg.DagsterInstance.get() as i:\n"
        "    print(json.dumps({r.run_id: len(i.all_logs(r.run_id)) for r in i.get_runs()}))\n"
    )
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def pick_subject(home: Path) -> Subject:
    """A customer with orders and a ticket whose e-mail, phone and street no other customer has."""
    con = duckdb.connect()
    src = home / "sources"
    customers = f"read_csv('{src}/crm/customers/*.csv', all_varchar = true)"
    victim = con.execute(
        f"""
        SELECT CAST(c.customer_id AS BIGINT) FROM {customers} c
        WHERE CAST(c.customer_id AS BIGINT) IN (SELECT customer_id FROM read_json('{src}/helpdesk/tickets/*.jsonl'))
          AND CAST(c.customer_id AS BIGINT) IN (SELECT customer_id FROM '{src}/shop/orders/*.parquet')
          AND (SELECT count(*) FROM {customers} o  -- not even inside another's value
               WHERE contains(CAST(o AS VARCHAR), c.email) OR contains(CAST(o AS VARCHAR), c.phone)
                  OR contains(CAST(o AS VARCHAR), c.street)) = 1
        ORDER BY 1 LIMIT 1
        """
    ).fetchall()[0][0]
    return Subject(home, victim)


def leak_the_subject(project: Path, subject: Subject, customers: list[int]) -> None:
    """The project copy's customer_profiles logs the subject's whole record (a debugging line left in), and
    a warn-only rule on its contract fails on the subject's row, so its failure sample carries the id."""
    product = project / "domains/customers/products/customer_profiles.py"
    code = product.read_text()
    code = code.replace(
        "    return ctx.con.sql(",
        "    for record in ctx.con.execute(\n"
        '        "SELECT * FROM read_csv(?, header = true, all_varchar = true) WHERE customer_id = ?",\n'
        f"        [str(export), '{subject.id}'],\n"
        "    ).fetchall():\n"
        "        ctx.log.info(f'debug: imported {record}')\n"
        "    return ctx.con.sql(",
    )
    product.write_text(code)
    contract = project / "domains/customers/contracts/customer_profiles.odcs.yaml"
    others = [c for c in customers if c != subject.id]
    text = contract.read_text().replace(
        'description: "CRM customer identifier."}',
        'description: "CRM customer identifier.", quality: [{metric: invalidValues, '
        f"arguments: {{validValues: {others}}}, mustBe: 0, severity: warn}}]}}",
    )
    contract.write_text(text)


def test_after_erasure_no_byte_under_mesh_home_holds_the_subject(project: Path, mesh_home: Path):
    env = dict(os.environ)
    assert mesh_cli("generate", "--orders", "200", env=env).returncode == 0
    subject = pick_subject(mesh_home)
    customers = [
        r[0]
        for r in duckdb.sql(
            f"SELECT CAST(customer_id AS BIGINT) FROM read_csv('{mesh_home}/sources/crm/customers/*.csv', "
            "all_varchar = true)"
        ).fetchall()
    ]
    leak_the_subject(project, subject, customers)
    built = mesh_cli("build", env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    # A product deleted since keeps its warehouse table and its snapshots: they hold the subject too.
    segments = list((mesh_home / "ports/marketing/customer_segments").rglob("*.parquet"))
    assert segments and duckdb.sql(
        f"SELECT count(*) FROM read_parquet({[str(p) for p in segments]}) WHERE customer_id = {subject.id}"
    ).fetchall() == [(1,)]
    for leftover in ("products/customer_segments.py", "products/customer_segments.yaml"):
        (project / "domains/marketing" / leftover).unlink()
    (project / "domains/marketing/contracts/customer_segments.odcs.yaml").unlink()

    before = where_the_subject_is(mesh_home, subject)
    # The findings of issue 15: the subject's values are in the bytes of the warehouses, the build's
    # logs and the Dagster instance's storage, not only in the tables and snapshots.
    for warehouse in ("customers", "marketing"):
        assert subject.email in before[f"warehouses/{warehouse}/warehouse.duckdb"]
    logs = [name for name in before if name.startswith("logs/")]
    assert any({subject.email, subject.phone, subject.street} <= set(before[n]) for n in logs), before
    dagster_files = [n for n in before if n.startswith("dagster/")]
    assert any(subject.email in before[n] for n in dagster_files), before
    assert any("customer_id=…" in before[n] for n in dagster_files), "the warn rule's sample names the subject's id"
    events_before = events_per_run()
    assert any(n.startswith("ports/marketing/customer_segments/") for n in before)

    result = mesh_cli("erase", "--subject", f"customer_id={subject.id}", "--json", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    cert = json.loads(result.stdout)
    assert cert["verified_absent"] is True
    # Every file under MESH_HOME is a place of the certificate, each saying how it was checked.
    places = {p["place"]: p for p in cert["places"]}
    for path in files_under(mesh_home):
        name = str(path.relative_to(mesh_home))
        if not name.startswith("governance/erasures/"):  # the certificate itself, written last
            assert name in places, f"{name} is not a place of the certificate"
    assert "SQL" in places["warehouses/marketing/warehouse.duckdb"]["method"]
    assert "VACUUM" in places["dagster/history/runs/index.db"]["method"]
    assert all(p["ok"] and p["result"] == "absent" for p in cert["places"])
    assert any(p.startswith("marketing/customer_segments@v1/") for p in places)

    # The test that matters: nothing of the subject in any byte, raw or decompressed.
    assert where_the_subject_is(mesh_home, subject) == {}
    # Dagster still reads every event record of the runs it had (redaction kept their JSON valid).
    assert {run: n for run, n in events_per_run().items() if run in events_before} == events_before
    # The audit record and the certificate name the subject by its salted hash only.
    record = audit.entries("erasure")[-1]
    assert record["subject"] == cert["subject"] and record["subject"].startswith("hmac-sha256:")
    assert (mesh_home / "governance/erasure.salt").stat().st_mode & 0o077 == 0
    assert audit.verify() == []
    # The rewritten warehouses still work: the next build succeeds and every port verifies.
    assert mesh_cli("build", "--domain", "customers", "--domain", "marketing", env=env).returncode == 0
    assert mesh_cli("ports", "verify", env=env).returncode == 0


def test_a_place_the_eraser_cannot_clean_makes_the_erasure_unverified_and_names_it(mesh_home: Path):
    env = dict(os.environ)
    assert mesh_cli("build", "--orders", "200", "--domain", "customers", "--domain", "support", env=env).returncode == 0
    subject = pick_subject(mesh_home)
    # An export someone left in a format the eraser cannot rewrite, holding the subject's e-mail.
    dump = mesh_home / "exports/crm-dump.bin"
    dump.parent.mkdir()
    dump.write_bytes(b"\x00\x01BIN" + subject.email.encode() + b"\x00" * 64)
    # And a process holding support's warehouse read-write (as a run does): it cannot be rewritten.
    held = duckdb.connect(str(mesh_home / "warehouses/support/warehouse.duckdb"))
    try:
        result = mesh_cli("erase", "--subject", f"customer_id={subject.id}", "--no-rebuild", "--json", env=env)
    finally:
        held.close()
    assert result.returncode == 1, result.stdout + result.stderr
    cert = json.loads(result.stdout)
    assert cert["verified_absent"] is False
    failed = {p["place"]: p for p in cert["places"] if not p["ok"]}
    assert failed["exports/crm-dump.bin"]["result"] == "still holds: email"
    assert "could not be" in failed["warehouses/support/warehouse.duckdb"]["result"]
    assert "exports/crm-dump.bin" in result.stderr and "warehouses/support/warehouse.duckdb" in result.stderr
    # Every other place was still cleaned: the subject is gone from the customers warehouse.
    assert places_ok(cert, "warehouses/customers/warehouse.duckdb")
    assert audit.entries("erasure")[-1]["verified_absent"] is False


def places_ok(cert: dict, name: str) -> bool:
    return next(p for p in cert["places"] if p["place"] == name)["ok"]
