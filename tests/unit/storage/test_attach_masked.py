"""The control plane's way of adding a masked variant to a committed snapshot (enforced mode: only it holds
the masking key): the files go into the snapshot under the masked prefix, listed with their true size and
checksum, and the manifest is rewritten last, so it never names a file that is not there."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from meshwork.storage import masked_variant, snapshots
from meshwork.storage.port_store import sha256_file


def committed(con: duckdb.DuckDBPyConnection) -> snapshots.Manifest:
    con.execute("CREATE TABLE t AS SELECT range AS id, 'a' || range || '@x.org' AS email FROM range(30)")
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
    )


def masked_files(con: duckdb.DuckDBPyConnection, folder: Path) -> list[Path]:
    """Two local Parquet files of masked rows, as the control plane writes them before attaching."""
    files = []
    for i, where in enumerate(["id < 10", "id >= 10"]):
        path = folder / f"part-{i}.parquet"
        con.execute(f"COPY (SELECT id, NULL::VARCHAR AS email FROM t WHERE {where}) TO '{path}' (FORMAT parquet)")
        files.append(path)
    return files


def test_masked_files_are_stored_in_the_snapshot_and_listed_with_their_size_and_checksum(tmp_path):
    con = duckdb.connect()
    manifest = committed(con)
    assert manifest.masked is None
    local = masked_files(con, tmp_path)
    contents = [f.read_bytes() for f in local]
    sums = [(f.stat().st_size, sha256_file(f)) for f in local]

    updated = snapshots.attach_masked(manifest, local)

    assert [e.path for e in updated.masked] == [
        f"{masked_variant.PREFIX}data_0.parquet",
        f"{masked_variant.PREFIX}data_1.parquet",
    ]
    folder = snapshots.version_dir("customers", "profiles", 1) / manifest.snapshot_id
    for entry, content, (size, digest) in zip(updated.masked, contents, sums, strict=True):
        assert (folder / entry.path).read_bytes() == content
        assert (entry.bytes, entry.sha256) == (size, digest)
    # The stored manifest is the updated one, and the clear files are untouched.
    assert snapshots.read_manifest("customers", "profiles", 1, manifest.snapshot_id) == updated
    assert updated.files == manifest.files
    files, problems = snapshots.readable_files(updated, masked=True)
    assert problems == []
    rows = con.execute(f"SELECT count(*), count(email) FROM read_parquet({snapshots.sql_file_list(files)})").fetchall()
    assert rows == [(30, 0)]


def test_a_file_that_cannot_be_attached_leaves_the_manifest_naming_no_masked_variant(tmp_path):
    con = duckdb.connect()
    manifest = committed(con)
    [first, _] = masked_files(con, tmp_path)

    with pytest.raises(FileNotFoundError):
        snapshots.attach_masked(manifest, [first, tmp_path / "never-written.parquet"])

    assert snapshots.read_manifest("customers", "profiles", 1, manifest.snapshot_id).masked is None
