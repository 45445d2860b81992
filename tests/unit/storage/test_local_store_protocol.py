"""The local port store keeps the store protocol (port_store.PortStore) with real files: a pointer's
first write creates its folders, deleting twice is no error, an erasure rewrite replaces the files in
place, a publish that fails before anything was staged reports its own error, and the report of
`mesh ports verify` names the store's folder."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from meshwork.cli import main
from meshwork.core import settings
from meshwork.core.errors import PublishError
from meshwork.storage import snapshots, stores
from meshwork.storage.port_store import TMP_PREFIX
from tests.unit.storage.test_latest_pointer import publish


def test_a_first_write_creates_the_folders_of_its_key_and_leaves_no_temporary_file():
    store = stores.current()
    store.write_text("_commits/sales/0001.json", '{"a": 1}')  # e.g. a domain's first commit record
    folder = settings.ports_dir() / "_commits" / "sales"
    assert (folder / "0001.json").read_text(encoding="utf-8") == '{"a": 1}'
    assert store.read_text("_commits/sales/0001.json") == '{"a": 1}'
    assert not list(folder.glob(f"{TMP_PREFIX}*"))
    assert store.read_text("_commits/sales/0002.json") is None


def test_deleting_a_file_removes_it_and_deleting_it_again_is_no_error():
    store = stores.current()
    store.write_text("sales/orders/v1/note", "x")
    store.delete("sales/orders/v1/note")
    assert not (settings.ports_dir() / "sales/orders/v1/note").exists()
    store.delete("sales/orders/v1/note")
    assert store.read_text("sales/orders/v1/note") is None


def test_an_erasure_rewrite_puts_the_new_file_in_place_and_removes_the_old_ones_and_its_scratch_file():
    con = duckdb.connect()
    manifest = publish(con, 10)
    folder = snapshots.version_dir("sales", "orders", 1) / manifest.snapshot_id
    old = {f.path for f in manifest.files}
    assert snapshots.delete_rows(con, manifest, "id >= ?", [7]) == 3
    rewritten = snapshots.read_manifest("sales", "orders", 1, manifest.snapshot_id)
    (entry,) = rewritten.files
    assert entry.path not in old and (folder / entry.path).is_file()
    assert not any((folder / name).exists() for name in old)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == [], "no scratch file left"
    assert snapshots.verify(rewritten) == []
    files = snapshots.sql_file_list(snapshots.snapshot_files(rewritten))
    assert con.execute(f"SELECT max(id), count(*) FROM read_parquet({files})").fetchall() == [(6, 7)]


def test_a_publish_that_fails_before_anything_is_staged_reports_its_own_error():
    con = duckdb.connect()
    with pytest.raises(PublishError, match=r"publishing sales/orders@v1 failed: .*no_such_table"):
        snapshots.write_snapshot(
            con,
            domain="sales",
            product="orders",
            major=1,
            table="no_such_table",
            columns=["id"],
            contract_id="orders",
            contract_version="1.0.0",
            run_id="run",
        )
    assert snapshots.latest_snapshot("sales", "orders", 1) is None


def test_published_majors_are_the_version_folders_with_a_pointer():
    con = duckdb.connect()
    publish(con, 3)
    assert snapshots.published_majors("sales", "orders") == [1]
    assert snapshots.published_majors("sales", "refunds") == []  # nothing stored at all
    assert stores.current().children("sales") == ["orders"]


def test_the_verify_report_names_the_local_store_folder():
    con = duckdb.connect()
    publish(con, 3)
    result = CliRunner().invoke(main, ["ports", "verify", "--json"])
    report = json.loads(result.output)
    assert report["store"] == str(Path(settings.ports_dir()))
