"""The masked variant of a snapshot: the same rows with every classified column masked, written at
publish time beside the clear files, so a consumer without clearance is handed masked bytes and
never depends on applying a mask itself. The masking expressions come from :mod:`meshwork.ports.masking`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from meshwork.storage.port_store import FileEntry, sha256_file, sql_path

PREFIX = "masked_"


def write(con: duckdb.DuckDBPyConnection, query: str, staging: Path) -> list[FileEntry]:
    """Write the result of ``query`` into the staged snapshot as ``masked_*.parquet`` files."""
    out = staging.with_name(staging.name + "-masked")
    try:
        con.execute(f"COPY ({query}) TO {sql_path(out)} (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '256MB')")
        if not out.exists():  # no rows: an explicit empty file, like the clear variant
            out.mkdir()
            con.execute(f"COPY ({query} LIMIT 0) TO {sql_path(out / 'data_0.parquet')} (FORMAT parquet)")
        entries = []
        for f in sorted(out.glob("*.parquet")):
            target = staging / f"{PREFIX}{f.name}"
            f.rename(target)
            entries.append(FileEntry(path=target.name, bytes=target.stat().st_size, sha256=sha256_file(target)))
        return entries
    finally:
        shutil.rmtree(out, ignore_errors=True)
