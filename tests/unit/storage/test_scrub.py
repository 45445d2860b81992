"""The byte-level half of erasure: what a DELETE leaves in DuckDB and SQLite files, and what the scrubbers remove."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import duckdb
import pytest

from meshwork.storage import scrub, scrub_tables
from meshwork.storage.scrub import Terms

EMAIL = "zoë.subject@example.com"


@pytest.fixture
def terms() -> Terms:
    t = Terms()
    t.add_value("email", EMAIL)
    t.add_keyed("customer_id", "42")
    return t


def test_a_value_is_redacted_in_every_form_a_file_holds_it_and_json_stays_valid(terms: Terms):
    event = json.dumps({"message": f"imported ('42', '{EMAIL}')", "customer_id": 42, "sample": {"customer_id": 42}})
    assert "\\u00eb" in event  # json.dumps escapes the ë: a plain search for the value would miss it
    redacted = terms.redact(event.encode())
    assert json.loads(redacted) == {
        "message": "imported ('42', '[erased]')",
        "customer_id": None,
        "sample": {"customer_id": None},
    }
    for form in (EMAIL, "zoë.SUBJECT@Example.COM", "zo%C3%AB.subject%40example.com"):
        assert terms.hits(f"<td>{form}</td>".encode()) == {"email"}, form
        assert b"subject" not in terms.redact(f"<td>{form}</td>".encode())


def test_an_id_is_matched_only_beside_its_column_name(terms: Terms):
    for text in ("customer_id=42", "{'customer_id': 42}", '"customer_id": "42"', 'x \\"customer_id\\": 42,'):
        assert terms.hits(text.encode()) == {"customer_id"}, text
    for text in ("42", "customer_id=421", "customer_id=42.5", "order_id=42", "mycustomer_id=42", "customer_id: 4 2"):
        assert terms.hits(text.encode()) == set(), text
        assert terms.redact(text.encode()) == text.encode()


def test_a_text_file_is_rewritten_only_when_it_holds_a_term(tmp_path: Path, terms: Terms):
    clean, dirty = tmp_path / "clean.log", tmp_path / "dirty.log"
    clean.write_text("nothing here\n")
    dirty.write_text(f"line one\nsample {{'customer_id': 42, 'email': '{EMAIL}'}}\n", encoding="utf-8")
    mtime = clean.stat().st_mtime_ns
    assert not scrub.redact_text_file(clean, terms) and clean.stat().st_mtime_ns == mtime
    assert scrub.redact_text_file(dirty, terms)
    assert dirty.read_text() == "line one\nsample {'customer_id': null, 'email': '[erased]'}\n"
    assert scrub.raw_hits(dirty, terms) == set()


def test_a_duckdb_delete_leaves_the_value_in_the_file_and_the_rewrite_removes_it(tmp_path: Path, terms: Terms):
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE customers AS "
        "SELECT i AS customer_id, 'someone' || i || '@example.com' AS email FROM range(50) t(i)"
    )
    con.execute("INSERT INTO customers VALUES (42, ?)", [EMAIL])
    con.execute("CREATE SCHEMA port_x")
    con.execute("CREATE VIEW port_x.v AS SELECT * FROM customers")
    con.execute("DELETE FROM customers WHERE customer_id = 42")
    con.execute("CHECKPOINT")
    con.close()
    # The fact erasure has to deal with: the deleted row is gone from the table, not from the file.
    assert scrub.raw_hits(db, terms) == {"email"}
    assert scrub_tables.duckdb_findings(db, {"customer_id": {"42"}}, terms) == set()

    assert scrub_tables.erase_in_duckdb(db, {"customer_id": {"42"}}) == 0
    assert scrub.raw_hits(db, terms) == set()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM port_x.v").fetchall() == [(49,)]  # views and other rows kept
    con.close()
    assert not list(tmp_path.glob(".*erasing*")) and not list(tmp_path.glob("*.wal"))


def test_a_duckdb_file_a_process_holds_is_not_touched(tmp_path: Path):
    db = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE t AS SELECT 42 AS customer_id").close()
    before = db.read_bytes()
    # Another process holds it read-write (as a run does): DuckDB's own lock refuses the eraser.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.Error):
            scrub_tables.erase_in_duckdb(db, {"customer_id": {"42"}})
    finally:
        holder.communicate("")
    assert db.read_bytes() == before


def test_a_sqlite_update_leaves_old_values_in_free_pages_and_the_scrub_vacuums_them(tmp_path: Path, terms: Terms):
    db = tmp_path / "runs.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE event_logs (id INTEGER PRIMARY KEY, event TEXT, snapshot BLOB)")
    con.executemany("INSERT INTO event_logs (event) VALUES (?)", [(f"event {i} " + "x" * 500,) for i in range(200)])
    con.execute(
        "INSERT INTO event_logs (event, snapshot) VALUES (?, ?)",
        (
            json.dumps({"customer_id": 42, "msg": EMAIL}),
            zlib.compress(f"snapshot of {EMAIL}".encode()),
        ),
    )
    con.commit()
    con.execute("DELETE FROM event_logs WHERE id < 100")
    con.commit()
    con.close()
    assert scrub.sqlite_hits(db, terms) == {"email", "customer_id"}

    assert scrub.redact_sqlite(db, terms) == 2  # the event and the compressed snapshot
    assert scrub.raw_hits(db, terms) == set() and scrub.sqlite_hits(db, terms) == set()
    con = sqlite3.connect(db)
    event, snapshot = con.execute("SELECT event, snapshot FROM event_logs WHERE snapshot IS NOT NULL").fetchone()
    assert json.loads(event) == {"customer_id": None, "msg": "[erased]"}
    assert zlib.decompress(snapshot) == b"snapshot of [erased]"


def test_parquet_is_checked_decompressed_and_rewritten_without_the_subject(tmp_path: Path, terms: Terms):
    f = tmp_path / "data.parquet"
    duckdb.connect().execute(  # not the default connection: a mutation run forks the test process
        f"COPY (SELECT i AS customer_id, CASE WHEN i = 42 THEN '{EMAIL}' ELSE 'x' || i END AS email "
        "FROM range(1000) t(i)) "
        f"TO '{f}' (FORMAT parquet, COMPRESSION zstd)"
    )
    rows = {"customer_id": {"42"}}
    assert scrub_tables.parquet_findings(f, rows, terms) == {"subject's rows", "email"}
    assert scrub_tables.erase_in_parquet(f, rows) == 1
    assert scrub_tables.parquet_findings(f, rows, terms) == set()
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{f}'").fetchall() == [(999,)]
