"""The landing zone: files operational systems drop under ``$MESH_HOME/sources/<system>/<table>/``.

Source-aligned products ingest from here. Erasure and row retention must clean it too, or the next
build would bring the rows back.
"""

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from meshwork.core import settings
from meshwork.model.descriptors import SourceRef
from meshwork.model.mesh import Product

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


def schema_problems(con: duckdb.DuckDBPyConnection, source: SourceRef) -> list[str]:
    """What is wrong with a source's landing files against its declared columns (empty when fine).

    Run before a source-aligned product ingests, so schema drift in an export (a renamed, missing or
    extra column, a file that is not what its name says) fails with the file and column names,
    instead of as nulls three models later or a cast error without a file name.
    """
    folder = settings.sources_dir() / source.system / source.table
    found = list(files(source))
    if not found:
        return [f"{folder} has no landing file (.parquet, .csv or .jsonl)"]
    problems = []
    expected = set(source.columns)
    for file in found:
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {_READERS[file.suffix]}", [str(file)]).fetchall()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            problems.append(f"{file} cannot be read as {file.suffix[1:]}: {first}")
            continue
        if not expected:
            continue
        actual = {row[0] for row in described}
        if missing := sorted(expected - actual):
            problems.append(f"{file} lacks column(s) {missing}")
        if extra := sorted(actual - expected):
            problems.append(f"{file} has unexpected column(s) {extra}; declare them in sources[].columns first")
    return problems


def ingest_problems(con: duckdb.DuckDBPyConnection, products: Iterable[Product]) -> list[str]:
    """Landing-file problems of every source the given products ingest, each naming its product."""
    return [
        f"{p.key}: {problem}" for p in products for src in p.descriptor.sources for problem in schema_problems(con, src)
    ]
