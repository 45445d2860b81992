"""Which majors count as published, the contract kept with the latest snapshot, and a reader that meets a
snapshot being replaced or rewritten while it reads: it resolves again instead of reporting damage that is
not there, a bounded number of times. Also: a snapshot's files on object storage (verified local copies),
a malformed manifest or snapshot id refused by name, retention sparing what ``latest`` names, and a
publish that fails at its commit (nothing left behind, the reason kept, an interrupt not wrapped)."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from meshwork.core.errors import PublishError
from meshwork.storage import port_cache, snapshots, stores
from meshwork.storage.local_store import LocalPortStore
from meshwork.storage.port_store import Damaged, FileEntry, sha256_file
from meshwork.storage.s3_store import S3PortStore
from tests.s3 import Bucket


def publish(con: duckdb.DuckDBPyConnection, rows: int, major: int = 1) -> snapshots.Manifest:
    con.execute(f"CREATE OR REPLACE TABLE t AS SELECT range AS id FROM range({rows})")
    return snapshots.write_snapshot(
        con,
        domain="sales",
        product="orders",
        major=major,
        table="t",
        columns=["id"],
        contract_id="orders",
        contract_version=f"{major}.0.0",
        run_id="run",
        contract_text=f"version: {major}.0.0\n",
    )


def test_a_major_counts_as_published_with_a_pointer_or_a_complete_snapshot_and_only_as_v_digits():
    con = duckdb.connect()
    publish(con, 3, major=1)
    publish(con, 3, major=3)
    (snapshots.version_dir("sales", "orders", 3) / "latest").unlink()  # lost pointer, snapshot still there
    base = snapshots.version_dir("sales", "orders", 1).parent
    (base / "v2").mkdir()  # an empty version folder: nothing published
    for odd in ("vx", "v1a", "w4"):  # not version folders, even holding a pointer
        (base / odd).mkdir()
        (base / odd / "latest").write_text("20240101T000000000000Z-x\n", encoding="utf-8")

    assert snapshots.published_majors("sales", "orders") == [1, 3]


def test_the_contract_kept_with_the_latest_snapshot_or_none_when_it_is_missing():
    con = duckdb.connect()
    manifest = publish(con, 3)
    text, snapshot = snapshots.published_contract("sales", "orders", 1)
    assert snapshot == manifest.snapshot_id and "version: 1.0.0" in text

    (snapshots.version_dir("sales", "orders", 1) / manifest.snapshot_id / snapshots.CONTRACT).unlink()
    assert snapshots.published_contract("sales", "orders", 1) is None
    assert snapshots.published_contract("sales", "orders", 2) is None


def test_a_reader_whose_snapshot_is_replaced_while_it_reads_resolves_the_new_one(monkeypatch):
    con = duckdb.connect()
    old = publish(con, 3)
    # A file of the old snapshot went away (retention at work) just as a new publish moved latest on.
    (snapshots.version_dir("sales", "orders", 1) / old.snapshot_id / old.files[0].path).unlink()
    real = snapshots.readable_files
    calls = []

    def meanwhile_a_publish(manifest, masked=False):
        result = real(manifest, masked)
        if not calls:
            publish(con, 5)
        calls.append(manifest.snapshot_id)
        return result

    monkeypatch.setattr(snapshots, "readable_files", meanwhile_a_publish)
    readable = snapshots.read_latest("sales", "orders", 1)

    assert readable is not None and readable.problems == [] and readable.manifest.row_count == 5
    assert calls[0] == old.snapshot_id and len(calls) == 2


def test_a_reader_whose_snapshot_is_rewritten_while_it_reads_reads_the_rewrite(monkeypatch):
    con = duckdb.connect()
    old = publish(con, 3)
    real = snapshots.readable_files
    calls = []

    def meanwhile_an_erasure(manifest, masked=False):
        if not calls:
            # An erasure rewrites the snapshot in place: a new file, then the manifest naming it, the old
            # file deleted. This reader holds the old manifest and finds its file gone.
            snapshots.delete_rows(con, manifest, "id = ?", [2])
            calls.append("rewritten")
        calls.append(manifest.files[0].path)
        return real(manifest, masked)

    monkeypatch.setattr(snapshots, "readable_files", meanwhile_an_erasure)
    readable = snapshots.read_latest("sales", "orders", 1)

    assert readable is not None and readable.problems == [], readable
    assert readable.snapshot_id == old.snapshot_id and readable.manifest.files != old.files
    assert len(calls) == 3


def test_a_manifest_deleted_under_a_reader_while_latest_still_names_it_is_an_error_not_a_damaged_read(monkeypatch):
    con = duckdb.connect()
    old = publish(con, 3)
    real = snapshots.readable_files

    def meanwhile_the_manifest_goes(manifest, masked=False):
        # The snapshot is being deleted under the reader: its data file, then its manifest, are gone.
        folder = snapshots.version_dir("sales", "orders", 1) / old.snapshot_id
        (folder / old.files[0].path).unlink(missing_ok=True)
        (folder / snapshots.MANIFEST).unlink(missing_ok=True)
        return real(manifest, masked)

    monkeypatch.setattr(snapshots, "readable_files", meanwhile_the_manifest_goes)
    with pytest.raises(FileNotFoundError, match=old.snapshot_id):
        snapshots.read_latest("sales", "orders", 1)


def test_deleting_rows_that_are_not_there_rewrites_nothing():
    con = duckdb.connect()
    manifest = publish(con, 3)

    assert snapshots.delete_rows(con, manifest, "id = ?", [99]) == 0
    assert snapshots.read_manifest("sales", "orders", 1, manifest.snapshot_id) == manifest
    assert snapshots.delete_rows(con, manifest, "id = ?", [1]) == 1
    assert snapshots.read_manifest("sales", "orders", 1, manifest.snapshot_id).row_count == 2


def test_a_reader_whose_snapshot_is_deleted_before_it_reads_the_manifest_resolves_the_new_one(monkeypatch):
    con = duckdb.connect()
    old = publish(con, 3)
    real = snapshots.read_manifest
    read = []

    def meanwhile_replaced_and_deleted(domain, product, major, snapshot_id):
        if not read:  # latest moved on and retention deleted the snapshot this reader had just resolved
            publish(con, 5)
            stores.current().delete_snapshot(snapshots.version_key("sales", "orders", 1), old.snapshot_id)
        read.append(snapshot_id)
        return real(domain, product, major, snapshot_id)

    monkeypatch.setattr(snapshots, "read_manifest", meanwhile_replaced_and_deleted)
    readable = snapshots.read_latest("sales", "orders", 1)

    assert readable is not None and readable.problems == [] and readable.manifest.row_count == 5
    assert read[0] == old.snapshot_id and readable.snapshot_id != old.snapshot_id
    assert read == [old.snapshot_id, readable.snapshot_id]


def test_a_reader_that_never_catches_up_gives_up_after_three_resolutions_with_the_missing_manifest(monkeypatch):
    con = duckdb.connect()
    publish(con, 3)
    real = snapshots.read_manifest
    read = []

    def always_replaced_and_deleted(domain, product, major, snapshot_id):
        read.append(snapshot_id)
        publish(con, 3 + len(read))
        stores.current().delete_snapshot(snapshots.version_key("sales", "orders", 1), snapshot_id)
        return real(domain, product, major, snapshot_id)

    monkeypatch.setattr(snapshots, "read_manifest", always_replaced_and_deleted)
    with pytest.raises(FileNotFoundError) as raised:
        snapshots.read_latest("sales", "orders", 1)

    assert len(read) == 3 and len(set(read)) == 3  # three snapshots resolved, one after the other
    assert read[-1] in str(raised.value) and snapshots.MANIFEST in str(raised.value)


def test_a_reader_reads_the_intact_snapshot_it_resolved_even_when_latest_moves_on_meanwhile(monkeypatch):
    con = duckdb.connect()
    old = publish(con, 3)
    real = snapshots.readable_files
    calls = []

    def meanwhile_a_publish(manifest, masked=False):
        calls.append(manifest.snapshot_id)
        publish(con, 4 + len(calls))  # every time: the snapshot being read is no longer the latest
        return real(manifest, masked)

    monkeypatch.setattr(snapshots, "readable_files", meanwhile_a_publish)
    readable = snapshots.read_latest("sales", "orders", 1)

    # Its files are whole: the read is consistent, there is no reason to chase the newer snapshot.
    assert readable is not None and readable.problems == []
    assert (readable.snapshot_id, readable.manifest.row_count, calls) == (old.snapshot_id, 3, [old.snapshot_id])


def test_the_masked_variant_of_a_snapshot_without_one_is_no_files_and_no_problems():
    con = duckdb.connect()
    manifest = publish(con, 3)
    assert manifest.masked is None
    assert snapshots.readable_files(manifest, masked=True) == ([], [])
    files, problems = snapshots.readable_files(manifest)
    assert problems == [] and [f.name for f in files] == [f.path for f in manifest.files]


def test_on_object_storage_snapshot_files_are_verified_local_copies_or_a_refusal_naming_every_damaged_file(
    s3_ports: Bucket,
):
    con = duckdb.connect()
    manifest = publish(con, 7)
    assert not isinstance(stores.current(), LocalPortStore)
    base = snapshots.snapshot_key(manifest)

    files = snapshots.snapshot_files(manifest)
    assert [(f.stat().st_size, sha256_file(f)) for f in files] == [(e.bytes, e.sha256) for e in manifest.files]
    assert con.execute(f"SELECT count(*) FROM read_parquet({snapshots.sql_file_list(files)})").fetchall() == [(7,)]

    # One stored object replaced by other bytes, and a second file the manifest names that is not there.
    s3_ports.put(f"{base}/{manifest.files[0].path}", b"not the snapshot's bytes")
    port_cache.forget([manifest.files[0].sha256])
    ghost = FileEntry(path="data_9.parquet", bytes=10, sha256="0" * 64)
    damaged = manifest.model_copy(update={"files": [*manifest.files, ghost]})
    with pytest.raises(PublishError) as raised:
        snapshots.snapshot_files(damaged)
    head, _, problems = str(raised.value).partition(" is damaged: ")
    assert head == base
    first, second = problems.split("; ")
    assert first.startswith(stores.current().where(f"{base}/{manifest.files[0].path}") + " ")
    assert second == f"{stores.current().where(f'{base}/data_9.parquet')} is missing"


def test_a_manifest_with_a_bad_nested_field_or_an_id_that_is_no_snapshot_id_is_refused_by_name():
    con = duckdb.connect()
    manifest = publish(con, 3)
    path = snapshots.version_dir("sales", "orders", 1) / manifest.snapshot_id / snapshots.MANIFEST
    stored = json.loads(path.read_text(encoding="utf-8"))
    stored["files"][0]["bytes"] = "many"
    path.write_text(json.dumps(stored), encoding="utf-8")

    with pytest.raises(Damaged) as raised:
        snapshots.read_manifest("sales", "orders", 1, manifest.snapshot_id)
    assert str(raised.value).startswith(f"{path} is not a valid manifest (files.0.bytes: ")

    for bad in ("../v2/x", "x\n", ".hidden"):
        with pytest.raises(Damaged) as raised:
            snapshots.read_manifest("sales", "orders", 1, bad)
        assert str(raised.value) == f"'{bad}' is not a snapshot id"


def test_retention_never_deletes_the_snapshot_latest_names_even_when_newer_ones_are_staged():
    con = duckdb.connect()
    current = publish(con, 3)
    staged = []
    for rows in (4, 5):  # committed but not pointed at: a domain run's snapshots awaiting their commit
        con.execute(f"CREATE OR REPLACE TABLE t AS SELECT range AS id FROM range({rows})")
        staged.append(
            snapshots.write_snapshot(
                con,
                domain="sales",
                product="orders",
                major=1,
                table="t",
                columns=["id"],
                contract_id="orders",
                contract_version="1.0.0",
                run_id="run",
                commit_latest=lambda v, s: None,
            )
        )
    version = snapshots.version_key("sales", "orders", 1)
    assert snapshots.snapshots(version) == [current.snapshot_id, *(m.snapshot_id for m in staged)]

    assert snapshots.apply_retention(version, keep=1) == [staged[0].snapshot_id]

    assert snapshots.snapshots(version) == [current.snapshot_id, staged[1].snapshot_id]
    readable = snapshots.read_latest("sales", "orders", 1)
    assert readable is not None and readable.snapshot_id == current.snapshot_id and readable.problems == []


def test_a_latest_holding_no_snapshot_id_is_damaged_and_quoted_to_80_characters():
    con = duckdb.connect()
    publish(con, 3)
    pointer = snapshots.version_dir("sales", "orders", 1) / snapshots.LATEST
    pointer.write_text("!" * 200 + "\n", encoding="utf-8")
    with pytest.raises(Damaged) as raised:
        snapshots.latest_snapshot("sales", "orders", 1)
    assert str(raised.value) == f"{pointer} holds {'!' * 80!r}, not a snapshot id"


def test_a_snapshot_records_its_columns_with_their_types_and_when_it_was_made_in_utc():
    con = duckdb.connect()
    con.execute("CREATE TABLE wide AS SELECT 1::BIGINT AS id, 'a' AS name, DATE '2024-01-02' AS day, 2.5::DOUBLE AS x")
    before = datetime.now(UTC)
    manifest = snapshots.write_snapshot(
        con, domain="sales", product="orders", major=1, table="wide", columns=["id", "name", "day", "x"],
        contract_id="orders", contract_version="1.0.0", run_id="run",
    )  # fmt: skip
    stored = snapshots.read_manifest("sales", "orders", 1, manifest.snapshot_id)
    assert [(c.name, c.type) for c in stored.columns] == [
        ("id", "BIGINT"), ("name", "VARCHAR"), ("day", "DATE"), ("x", "DOUBLE"),
    ]  # fmt: skip
    # Aware and in UTC: retention by age compares it with the current UTC time.
    assert stored.created_at.utcoffset() == timedelta(0) and before <= stored.created_at <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("failure", "expected", "message"),
    [
        (OSError("disk full"), PublishError, "publishing sales/orders@v1 failed: disk full"),
        (PublishError("the store refused it"), PublishError, "the store refused it"),  # not wrapped twice
        (KeyboardInterrupt(), KeyboardInterrupt, ""),  # an interrupt stays an interrupt
    ],
)
def test_a_publish_that_fails_at_its_commit_leaves_nothing_and_says_why(monkeypatch, failure, expected, message):
    con = duckdb.connect()
    first = publish(con, 3)

    def fails(self, staging, version, snapshot_id):
        raise failure

    monkeypatch.setattr(LocalPortStore, "commit", fails)
    with pytest.raises(expected) as raised:
        publish(con, 4)
    assert str(raised.value) == message
    folder = snapshots.version_dir("sales", "orders", 1)
    assert sorted(p.name for p in folder.iterdir()) == sorted([first.snapshot_id, snapshots.LATEST])
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id


def test_a_publish_to_object_storage_that_fails_at_the_manifest_deletes_what_it_uploaded(s3_ports: Bucket, monkeypatch):
    con = duckdb.connect()
    first = publish(con, 3)
    real = S3PortStore.put_file

    def no_manifest(self, key, source):
        if key.endswith(snapshots.MANIFEST):
            raise OSError("connection reset")
        real(self, key, source)

    monkeypatch.setattr(S3PortStore, "put_file", no_manifest)
    with pytest.raises(PublishError, match=r"^publishing sales/orders@v1 failed: connection reset$"):
        publish(con, 4)

    prefix = f"{snapshots.snapshot_key(first)}/"
    assert [k for k in s3_ports.keys("sales/orders/v1/") if not k.startswith(prefix)] == ["sales/orders/v1/latest"]
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id


def test_a_snapshot_id_is_the_utc_time_and_the_run_ids_first_8_characters_whatever_the_machines_zone():
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kathmandu"  # UTC+05:45: a local-time stamp would be hours off
    time.tzset()
    try:
        before = datetime.now(UTC).replace(tzinfo=None)
        with_run, without_run = snapshots.new_snapshot_id("run-1234567890"), snapshots.new_snapshot_id(None)
        after = datetime.now(UTC).replace(tzinfo=None)
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
        time.tzset()
    for made in (with_run, without_run):
        stamp, _, suffix = made.partition("-")
        assert before <= datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ") <= after
        assert snapshots.check_snapshot_id(made) == made
    assert with_run.partition("-")[2] == "run-1234"
    assert re.fullmatch(r"[0-9a-f]{8}", without_run.partition("-")[2])


def test_two_publishes_of_one_port_version_at_once_each_commit_their_own_rows(monkeypatch):
    con, other = duckdb.connect(), duckdb.connect()
    real = LocalPortStore.commit
    inner: list[snapshots.Manifest] = []
    started = []

    def another_publish_meanwhile(self, staging, version, snapshot_id):
        if not started:  # while the first is staged and not yet committed, a second publish runs whole
            started.append(snapshot_id)
            inner.append(publish(other, 5))
        real(self, staging, version, snapshot_id)

    monkeypatch.setattr(LocalPortStore, "commit", another_publish_meanwhile)
    outer = publish(con, 3)

    assert outer.snapshot_id.endswith("-run") and inner[0].snapshot_id.endswith("-run")  # the run id names it
    for manifest, rows in ((outer, 3), (inner[0], 5)):
        stored = snapshots.read_manifest("sales", "orders", 1, manifest.snapshot_id)
        files, problems = snapshots.readable_files(stored)
        assert problems == [] and stored.row_count == rows
        assert con.execute(f"SELECT count(*) FROM read_parquet({snapshots.sql_file_list(files)})").fetchall() == [
            (rows,)
        ]
