"""Retention deletes old snapshots whole; leftovers of publishes that died are collected only once they
are old, never through a link out of the store; only a complete, visible snapshot counts as one."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import time_machine

from meshwork.storage import snapshots, stores
from meshwork.storage.port_store import MANIFEST, TMP_PREFIX
from tests.unit.storage.test_latest_pointer import publish

VERSION = "sales/orders/v1"
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def version_dir() -> Path:
    return snapshots.version_dir("sales", "orders", 1)


def aged(path: Path, age: timedelta) -> Path:
    """Give ``path`` the mtime it would have if it were last written ``age`` before NOW."""
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp), follow_symlinks=False)
    return path


def leftover(name: str, age: timedelta) -> Path:
    """A staged snapshot a dead publish left behind: data written, never renamed into place."""
    folder = version_dir() / f"{TMP_PREFIX}{name}"
    folder.mkdir(parents=True)
    (folder / "data_0.parquet").write_bytes(b"PAR1 half written")
    return aged(folder, age)


def test_retention_deletes_an_old_snapshot_whole_not_only_its_manifest(monkeypatch):
    monkeypatch.setenv("MESH_PORT_RETENTION", "1")
    con = duckdb.connect()
    first = publish(con, 3, run_id="run-1")
    second = publish(con, 4, run_id="run-2")
    assert snapshots.snapshot_ids("sales", "orders", 1) == [second.snapshot_id]
    assert not (version_dir() / first.snapshot_id).exists(), "the data files and the folder go with the manifest"
    assert (version_dir() / second.snapshot_id / "data_0.parquet").is_file()


def test_deleting_a_snapshot_a_concurrent_retention_already_deleted_is_no_error():
    con = duckdb.connect()
    first = publish(con, 3, run_id="run-1")
    store = stores.current()
    # Two publishes of one port both apply retention: both list the same old snapshot; one deletes it
    # first, or died after removing its manifest. The other must go on, not fail its publish.
    (version_dir() / first.snapshot_id / MANIFEST).unlink()
    store.delete_snapshot(VERSION, first.snapshot_id)
    assert not (version_dir() / first.snapshot_id).exists()
    store.delete_snapshot(VERSION, first.snapshot_id)
    assert not (version_dir() / first.snapshot_id).exists()


def test_only_old_leftovers_are_collected_and_each_is_named():
    con = duckdb.connect()
    publish(con, 3)
    old = leftover("old", timedelta(hours=2))
    young = leftover("young", timedelta(minutes=5))  # a concurrent publish of the same port may be writing it
    with time_machine.travel(NOW, tick=False):
        removed = stores.current().remove_orphans(VERSION, timedelta(hours=1))
    assert removed == [old.name]
    assert not old.exists()
    assert (young / "data_0.parquet").is_file()


def test_a_leftover_exactly_as_old_as_the_limit_is_kept():
    con = duckdb.connect()
    publish(con, 3)
    edge = leftover("edge", timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        assert stores.current().remove_orphans(VERSION, timedelta(hours=1)) == []
    assert (edge / "data_0.parquet").is_file()


def test_a_leftover_file_is_not_a_staged_snapshot_and_is_kept():
    con = duckdb.connect()
    publish(con, 3)
    pointer = version_dir() / f"{TMP_PREFIX}latest-0123"  # what a pointer write that died leaves
    pointer.write_text("x", encoding="utf-8")
    aged(pointer, timedelta(days=2))
    with time_machine.travel(NOW, tick=False):
        assert stores.current().remove_orphans(VERSION, timedelta(hours=1)) == []
    assert pointer.read_text(encoding="utf-8") == "x"


def test_collecting_leftovers_never_follows_a_link_out_of_the_store_nor_fails_on_one(tmp_path: Path):
    con = duckdb.connect()
    first = publish(con, 3)
    outside = tmp_path / "not-the-store"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me", encoding="utf-8")
    aged(outside, timedelta(days=2))
    link = version_dir() / f"{TMP_PREFIX}link"
    link.symlink_to(outside, target_is_directory=True)
    aged(link, timedelta(days=2))
    with time_machine.travel(NOW, tick=False):
        snapshots.apply_retention(VERSION, keep=1)  # a publish's last step: it must not raise
    assert (outside / "precious.txt").read_text(encoding="utf-8") == "keep me"
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id


def test_a_staged_snapshot_that_already_holds_its_manifest_is_not_a_snapshot():
    con = duckdb.connect()
    first = publish(con, 3)
    # A publish that died between writing the manifest and the rename leaves a complete-looking folder.
    staged = version_dir() / f"{TMP_PREFIX}20990101T000000000000Z-dead"
    shutil.copytree(version_dir() / first.snapshot_id, staged)
    hidden = version_dir() / ".20990101T000000000001Z-hidden"
    shutil.copytree(version_dir() / first.snapshot_id, hidden)
    # A visible folder whose manifest is gone (a deletion under way) is not one either.
    gutted = version_dir() / "20990101T000000000002Z-gutted"
    shutil.copytree(version_dir() / first.snapshot_id, gutted)
    (gutted / MANIFEST).unlink()
    assert snapshots.snapshot_ids("sales", "orders", 1) == [first.snapshot_id]
    assert stores.current().snapshot_ids("sales/orders/v9") == []  # a version never published
