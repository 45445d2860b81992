"""`latest` moves last, and whole: a reader holds the old pointer or the new one, never a torn or
emptied file, and never one that names a snapshot that is not in place."""

from __future__ import annotations

import duckdb
import pytest

from meshwork.core import settings
from meshwork.core.errors import PublishError
from meshwork.storage import snapshots
from meshwork.storage.port_store import TMP_PREFIX


def publish(con: duckdb.DuckDBPyConnection, rows: int, run_id: str = "run") -> snapshots.Manifest:
    con.execute(f"CREATE OR REPLACE TABLE t AS SELECT range AS id FROM range({rows})")
    return snapshots.write_snapshot(
        con,
        domain="sales",
        product="orders",
        major=1,
        table="t",
        columns=["id"],
        contract_id="orders",
        contract_version="1.0.0",
        run_id=run_id,
    )


def test_a_reader_that_opened_latest_still_reads_the_old_id_whole_after_a_publish_replaces_it():
    con = duckdb.connect()
    first = publish(con, 3)
    pointer = settings.ports_dir() / "sales/orders/v1/latest"
    with pointer.open(encoding="utf-8") as held:
        second = publish(con, 5)
        # A new file renamed over the old one: the open file is the old one, untouched. A pointer
        # rewritten in place would be truncated under this reader.
        assert held.read() == first.snapshot_id + "\n"
    assert pointer.read_text(encoding="utf-8") == second.snapshot_id + "\n"
    assert snapshots.latest_snapshot("sales", "orders", 1) == second.snapshot_id
    assert not list(pointer.parent.glob(f"{TMP_PREFIX}*")), "no temporary pointer is left behind"


def test_latest_keeps_the_previous_snapshot_when_the_new_one_cannot_be_put_in_place(monkeypatch):
    con = duckdb.connect()
    first = publish(con, 3)
    # The new snapshot's place is taken by a folder that is not a snapshot: the rename that would make
    # it visible fails for real (the target is not empty), after the data and manifest were written.
    taken = "20990101T000000000000Z-taken"
    monkeypatch.setattr(snapshots, "new_snapshot_id", lambda run_id: taken)
    blocker = snapshots.version_dir("sales", "orders", 1) / taken
    blocker.mkdir()
    (blocker / "someone-elses-file").write_text("x", encoding="utf-8")

    with pytest.raises(PublishError, match="sales/orders@v1"):
        publish(con, 5)

    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id
    readable = snapshots.read_latest("sales", "orders", 1)
    assert readable is not None and readable.manifest.row_count == 3 and readable.problems == []
    assert snapshots.snapshot_ids("sales", "orders", 1) == [first.snapshot_id]
    assert not list(blocker.parent.glob(f"{TMP_PREFIX}*")), "the staged snapshot is discarded"
