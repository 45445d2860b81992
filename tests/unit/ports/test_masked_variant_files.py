"""The masked variant's files, as a publish writes them: named ``masked_*``, listed in the manifest with
their true size and checksum, an explicit empty file for an empty port, and nothing left beside the
snapshot, whether the publish succeeds or fails."""

from __future__ import annotations

import duckdb
import pytest

from meshwork.core.errors import PublishError
from meshwork.storage import masked_variant, snapshots
from meshwork.storage.port_store import sha256_file

MASKED = "SELECT id, CAST(NULL AS VARCHAR) AS email FROM t"


def publish(con: duckdb.DuckDBPyConnection, rows: int, masked_query: str = MASKED) -> snapshots.Manifest:
    con.execute(
        f"CREATE OR REPLACE TABLE t AS SELECT range AS id, 'a' || range || '@x.org' AS email FROM range({rows})"
    )
    return snapshots.write_snapshot(
        con,
        domain="customers",
        product="profiles",
        major=1,
        table="t",
        columns=["id", "email"],
        contract_id="profiles",
        contract_version="1.0.0",
        run_id="run",
        masked_query=masked_query,
    )


def folder(manifest: snapshots.Manifest):
    return snapshots.version_dir("customers", "profiles", 1) / manifest.snapshot_id


def test_the_masked_files_are_listed_with_their_true_size_and_checksum_and_hold_the_masked_rows():
    con = duckdb.connect()
    manifest = publish(con, 50)
    assert manifest.masked
    for entry in manifest.masked:
        file = folder(manifest) / entry.path
        assert entry.path.startswith(masked_variant.PREFIX) and entry.path.endswith(".parquet")
        assert entry.bytes == file.stat().st_size and entry.sha256 == sha256_file(file)
    files, problems = snapshots.readable_files(manifest, masked=True)
    assert problems == []
    rows = con.execute(f"SELECT count(*), count(email), max(id) FROM read_parquet({snapshots.sql_file_list(files)})")
    assert rows.fetchall() == [(50, 0, 49)]
    assert {e.path for e in manifest.files}.isdisjoint({e.path for e in manifest.masked})


def test_an_empty_port_gets_an_explicit_empty_masked_file_with_the_masked_columns():
    con = duckdb.connect()
    manifest = publish(con, 0)
    assert manifest.masked is not None and [e.path for e in manifest.masked] == ["masked_data_0.parquet"]
    files, problems = snapshots.readable_files(manifest, masked=True)
    assert problems == []
    rel = con.sql(f"SELECT * FROM read_parquet({snapshots.sql_file_list(files)})")
    assert rel.columns == ["id", "email"] and rel.fetchall() == []


def test_nothing_is_left_beside_the_snapshot_after_a_publish():
    con = duckdb.connect()
    manifest = publish(con, 5)
    version = snapshots.version_dir("customers", "profiles", 1)
    assert sorted(p.name for p in version.iterdir()) == sorted([manifest.snapshot_id, snapshots.LATEST])


def test_a_masked_query_that_fails_publishes_nothing_and_leaves_nothing_behind():
    con = duckdb.connect()
    with pytest.raises(PublishError, match="customers/profiles@v1"):
        publish(con, 5, masked_query="SELECT id, no_such_column FROM t")
    version = snapshots.version_dir("customers", "profiles", 1)
    assert snapshots.latest_snapshot("customers", "profiles", 1) is None
    assert list(version.iterdir()) == []


def test_a_masked_query_that_fails_after_writing_leaves_no_masked_folder(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS id FROM range(3)")
    staging = tmp_path / "version" / ".tmp-snap"
    staging.mkdir(parents=True)
    # The COPY writes its folder, then the query fails on a row: the half-written folder goes.
    with pytest.raises(duckdb.Error):
        masked_variant.write(con, "SELECT CASE WHEN id = 2 THEN error('boom') ELSE id END AS id FROM t", staging)
    assert [p.name for p in staging.parent.iterdir()] == [".tmp-snap"]
    assert list(staging.iterdir()) == []


def test_a_port_store_whose_path_holds_a_quote_publishes_both_variants_and_rewrites_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PORTS_URL", str(tmp_path / "o'hara's ports"))
    con = duckdb.connect()
    manifest = publish(con, 6)
    assert "o'hara's ports" in str(folder(manifest)) and manifest.masked and snapshots.verify(manifest) == []
    assert snapshots.delete_rows(con, manifest, "id = ?", [2]) == 1  # an erasure rewrite, same folder
    rewritten = snapshots.read_manifest("customers", "profiles", 1, manifest.snapshot_id)
    assert rewritten.row_count == 5 and snapshots.verify(rewritten) == []
