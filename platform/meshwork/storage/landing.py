"""The landing zone: files operational systems drop under ``$MESH_HOME/sources/<system>/<table>/``.

Source-aligned products ingest from here. Erasure and row retention must clean it too, or the next
build would bring the rows back.
"""

import contextlib
import csv
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import duckdb

from meshwork.core import settings
from meshwork.core.errors import MeshError
from meshwork.core.names import quote
from meshwork.core.sqltypes import canonical_types
from meshwork.model.descriptors import SourceRef
from meshwork.model.mesh import Product
from meshwork.storage import dbt_project

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


def columns(con: duckdb.DuckDBPyConnection, file: Path) -> list[str]:
    """The column names of a landing file (as the readers see them)."""
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {_READERS[file.suffix]}", [str(file)]).fetchall()]


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


_FORMATS = {".parquet": "Parquet", ".csv": "CSV", ".jsonl": "JSON lines"}
_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE"}
_DELIMITERS = ",;\t|"
_GLOB = re.compile(r"\*(\.parquet|\.csv|\.jsonl)\b")


def _looks_like(head: bytes) -> str:
    """What the first bytes of a file say it is, in words for an error message."""
    if head.startswith(b"PAR1"):
        return "Parquet"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (an Excel workbook?)"
    if b"\x00" in head:
        return "binary data"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "JSON"
    if text.startswith(b"["):
        return "a JSON array"
    return "CSV" if any(d.encode() in text.split(b"\n", 1)[0] for d in _DELIMITERS) else "plain text"


def _format_problem(file: Path) -> str | None:
    """The file is not what its name says (a CSV saved as .parquet, a truncated Parquet file, …)."""
    size = file.stat().st_size
    if size == 0:
        return f"{file} is empty (0 bytes)"
    with file.open("rb") as f:
        head = f.read(4096)
        f.seek(max(size - 4, 0))
        tail = f.read(4)
    looks = _looks_like(head)
    if file.suffix == ".parquet":
        if looks != "Parquet":
            return f"{file} is not a Parquet file (it looks like {looks})"
        if tail != b"PAR1" or size < 12:
            return f"{file} is not a complete Parquet file (its footer is missing: truncated?)"
        return None
    binary = looks in ("Parquet", "gzip-compressed data", "a ZIP archive (an Excel workbook?)", "binary data")
    if binary or (file.suffix == ".jsonl" and looks != "JSON"):
        return f"{file} is not a {_FORMATS[file.suffix]} file (it looks like {looks})"
    return None


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _numeric(types: Mapping[str, str], columns: Iterable[str]) -> dict[str, str]:
    """The columns whose contract type is numeric (canonical DuckDB spelling): text there is an error."""
    return {c: t for c in columns if (t := types.get(c, "")) in _NUMERIC or t.startswith("DECIMAL")}


def _bad_value(column: str, physical_type: str) -> str:
    """SQL: one value of ``column`` that is there but does not cast to ``physical_type`` (NULL when none)."""
    q = quote(column)
    return f"first({q}::VARCHAR) FILTER (WHERE {q} IS NOT NULL AND TRY_CAST({q} AS {physical_type}) IS NULL)"


def _text(
    file: Path, column: str, physical_type: str, value: str, line: int | None = None, row: int | None = None
) -> str:
    where = f"{file} line {line}" if line else str(file)
    shown = f"{value!r} in row {row}" if row else repr(value)
    return f"{where}: column '{column}' holds text ({shown}) where the contract says {physical_type}"


def _line_of(file: Path, delimiter: str, index: int, value: str) -> int | None:
    """The line of the first CSV record whose field ``index`` is ``value`` (only read on a failure)."""
    with file.open(encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        next(reader, None)
        for record in reader:
            if len(record) > index and record[index] == value:
                return reader.line_num
    return None


def _line_at(file: Path, offset: int) -> int:
    """The line number (as an editor counts them) of the byte at ``offset``; DuckDB counts records instead."""
    newlines = 0
    with file.open("rb") as f:
        while offset > 0 and (chunk := f.read(min(offset, 1 << 20))):
            newlines += chunk.count(b"\n")
            offset -= len(chunk)
    return newlines + 1


def _json_line_of(file: Path, column: str, value: str) -> int | None:
    """The line of the first JSON record whose ``column`` is ``value`` (only read on a failure)."""
    with file.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            with contextlib.suppress(ValueError, AttributeError):  # a line that is not a JSON object
                if json.loads(line).get(column) == value:
                    return number
    return None


def _csv_problems(file: Path, types: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(header, problems) of a CSV file: the whole file is parsed, each bad line named with its number.

    DuckDB's dialect sniffer reads a truncated file as one column named after the whole header line,
    so the dialect is fixed here instead: the delimiter the header uses most, double quotes.
    """
    with file.open("rb") as f:
        first = f.readline(1 << 20)
        f.seek(-1, os.SEEK_END)
        tail = f.read(1)  # a truncated export usually stops mid-line, without its final newline
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [f"{file} line 1: not UTF-8 text (export the file as UTF-8)"]
    delimiter = max(_DELIMITERS, key=line.count)
    header = next(csv.reader([line], delimiter=delimiter), [])
    if not header:
        return [], [f"{file} has no header line"]
    if twice := sorted({c for c in header if header.count(c) > 1}):
        return [], [f"{file} line 1: the header names column(s) {twice} more than once"]
    numeric = _numeric(types, header)
    columns = "{" + ", ".join(f"{_sql_text(c)}: 'VARCHAR'" for c in header) + "}"
    bad = "".join(f", {_bad_value(c, t)}" for c, t in numeric.items())
    # min(COLUMNS(*)) makes DuckDB decode every field: a count alone skips them, and their encoding errors.
    with duckdb.connect() as con:
        row = con.execute(
            f"SELECT count(*){bad}, min(COLUMNS(*)) FROM read_csv(?, header = true, auto_detect = false, "
            f"delim = ?, quote = '\"', escape = '\"', columns = {columns}, store_rejects = true)",
            [str(file), delimiter],
        ).fetchall()[0]  # consumed whole: the rejects table is filled when the scan completes
        rejects = con.execute(
            "SELECT line_byte_position, error_type, csv_line, error_message FROM reject_errors "
            "ORDER BY line_byte_position, column_idx"
        ).fetchall()
    if rejects:
        offset, kind, text, message = rejects[0]
        number, more = _line_at(file, offset), len({r[0] for r in rejects}) - 1
        if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
            found = len(next(csv.reader([text], delimiter=delimiter), []))
            truncated = found < len(header) and tail != b"\n"
            reason = f"{found} fields, the header has {len(header)}" + (
                " (the file is truncated?)" if truncated else ""
            )
        elif kind == "INVALID ENCODING":
            reason = "not UTF-8 text (export the file as UTF-8)"
        else:
            reason = str(message).strip().splitlines()[0]
        return header, [f"{file} line {number}: {reason}" + (f" (and {more} more bad line(s))" if more else "")]
    problems = [
        _text(file, c, t, value, line=_line_of(file, delimiter, header.index(c), value))
        for (c, t), value in zip(numeric.items(), row[1 : 1 + len(numeric)], strict=True)
        if value is not None
    ]
    if not row[0]:
        problems.append(f"{file} has a header and no rows")
    return header, problems


def _typed_problems(
    con: duckdb.DuckDBPyConnection, file: Path, names: list[str], types: Mapping[str, str]
) -> list[str]:
    """Text in a Parquet or JSON-lines column whose contract type is numeric, with the first such row."""
    numeric = _numeric(types, names)
    if not numeric:
        return []
    problems = []
    for column, physical_type in numeric.items():
        q = quote(column)
        if file.suffix == ".parquet":
            scan, shown, position = "read_parquet(?, file_row_number = true)", f"{q}::VARCHAR", "file_row_number + 1"
        else:  # a JSON-typed column holds '"abc"': show the string itself
            scan, shown, position = _READERS[file.suffix], f"json_extract_string(to_json({q}), '$')", "NULL"
        row = con.execute(
            f"SELECT {shown}, {position} FROM {scan} WHERE {q} IS NOT NULL "
            f"AND TRY_CAST({q} AS {physical_type}) IS NULL LIMIT 1",
            [str(file)],
        ).fetchone()
        if row is not None:
            line = _json_line_of(file, column, row[0]) if file.suffix == ".jsonl" else None
            problems.append(_text(file, column, physical_type, row[0], line=line, row=row[1]))
    return problems


def schema_problems(
    con: duckdb.DuckDBPyConnection,
    source: SourceRef,
    types: Mapping[str, str] | None = None,
    reads: str | None = None,
) -> list[str]:
    """What is wrong with a source's landing files (empty when fine), each naming the file and line or column.

    Run before a source-aligned product ingests, so a bad export (a renamed, missing or extra column,
    a file that is not what its name says, a truncated or header-only CSV, text where the contract
    says a number) fails with the file, line and column names, instead of as nulls three models
    later or a stack trace without a file name. ``types``: the contract's column types (canonical);
    ``reads``: the only suffix the product reads (a dbt source's ``*.parquet``), when it has one.
    """
    folder = settings.sources_dir() / source.system / source.table
    found = list(files(source))
    if not found:
        return [f"{folder} has no landing file (.parquet, .csv or .jsonl)"]
    problems = []
    if reads is not None:
        problems += [
            f"{file} is a {_FORMATS[file.suffix]} file where {source.system}.{source.table} is read as "
            f"{_FORMATS[reads]} (*{reads}): it would not be ingested"
            for file in found
            if file.suffix != reads
        ]
        if not any(file.suffix == reads for file in found):
            problems.append(f"{folder} has no {_FORMATS[reads]} file (*{reads}) to ingest")
    expected = set(source.columns)
    for file in found:
        if problem := _format_problem(file):
            problems.append(problem)
            continue
        try:
            if file.suffix == ".csv":
                names, found_problems = _csv_problems(file, types or {})
            else:
                described = con.execute(f"DESCRIBE SELECT * FROM {_READERS[file.suffix]}", [str(file)]).fetchall()
                names = [row[0] for row in described]
                found_problems = _typed_problems(con, file, names, types or {})
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            problems.append(f"{file} cannot be read as {file.suffix[1:]}: {first}")
            continue
        problems += found_problems
        if not expected or not names:
            continue
        actual = set(names)
        if missing := sorted(expected - actual):
            problems.append(f"{file} lacks column(s) {missing}")
        if extra := sorted(actual - expected):
            problems.append(f"{file} has unexpected column(s) {extra}; declare them in sources[].columns first")
    return problems


def _dbt_reads(products: list[Product]) -> dict[tuple[str, str], str]:
    """(system, table) -> the suffix its dbt source's external_location reads (``…/{name}/*.parquet``).

    A landed file of another format passes every other check and is then silently not read: dbt
    fails with "No files found" (or ingests the rest without it).
    """
    if not any(p.descriptor.implementation.engine == "dbt" and p.descriptor.sources for p in products):
        return {}
    try:
        manifest = dbt_project.load_manifest()
    except MeshError:  # a project that does not parse fails the run on its own, with dbt's message
        return {}
    found = {}
    for node in manifest.get("sources", {}).values():
        meta = {**(node.get("source_meta") or {}), **(node.get("meta") or {})}
        if m := _GLOB.search(str(meta.get("external_location", ""))):
            found[(node["source_name"], node["name"])] = m.group(1)
    return found


def ingest_problems(con: duckdb.DuckDBPyConnection, products: Iterable[Product]) -> list[str]:
    """Landing-file problems of every source the given products ingest, each naming its product."""
    products = list(products)
    dbt_reads = _dbt_reads(products)
    problems = []
    for p in products:
        if not p.descriptor.sources:
            continue
        columns = p.current_port.contract.columns
        types = dict(
            zip([c.name for c in columns], canonical_types(con, [c.physical_type for c in columns]), strict=True)
        )
        for src in p.descriptor.sources:
            reads = dbt_reads.get((src.system, src.table)) if p.descriptor.implementation.engine == "dbt" else None
            problems += [f"{p.key}: {problem}" for problem in schema_problems(con, src, types, reads)]
    return problems
