"""The landing zone: files operational systems drop under ``$MESH_HOME/sources/<system>/<table>/``.

Source-aligned products ingest from here. Erasure and row retention must clean it too, or the next
build would bring the rows back.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from meshwork import settings
from meshwork.descriptors import SourceRef

_READERS = {
    ".parquet": "read_parquet(?)",
    ".csv": "read_csv(?, header = true, all_varchar = true)",
    ".jsonl": "read_json(?, format = 'newline_delimited')",
}
_WRITERS = {".parquet": "FORMAT parquet", ".csv": "FORMAT csv, HEADER true", ".jsonl": "FORMAT json"}


def files(source: SourceRef) -> Iterator[Path]:
    for file in sorted((settings.sources_dir() / source.system / source.table).glob("*")):
        if file.is_file() and file.suffix in _READERS:
            yield file


def delete_rows(con: duckdb.DuckDBPyConnection, file: Path, predicate: str, params: list) -> int:
    """Rewrite ``file`` without the rows matching ``predicate``; the swap is atomic (rename)."""
    scan = _READERS[file.suffix]
    hit = con.execute(f"SELECT count(*) FROM {scan} WHERE {predicate}", [str(file), *params]).fetchall()[0][0]
    if hit:
        tmp = file.with_name(f".{file.name}.rewriting")
        con.execute(
            f"COPY (SELECT * FROM {scan} WHERE NOT coalesce({predicate}, false)) TO '{tmp}' ({_WRITERS[file.suffix]})",
            [str(file), *params],
        )
        os.replace(tmp, file)
    return int(hit)
