"""Find and redact a data subject's values in the bytes of files: the byte-level half of erasure.

What identifies a subject in free text is described by :class:`Terms`:

- ``values``: distinctive personal values (an e-mail, a phone number, a street, a ticket id), searched
  for anywhere, case-insensitively, in each form a file may hold them in: as typed, escaped inside a
  JSON string (``\\u00e9``), HTML-escaped (the catalog) and URL-quoted (links);
- ``keyed``: values that identify only beside their column's name (``customer_id=42``,
  ``'customer_id': 42``, ``"customer_id": 42`` in a failure sample, a log line or a JSON event): a bare
  ``42`` cannot be told from any other number, so it is matched only in those forms.

Redaction replaces a match with ``[erased]`` (keyed: the value only; a bare number becomes ``null``),
which keeps JSON, CSV and HTML well formed. Files are scanned in overlapping chunks, so memory stays
flat whatever their size.
"""

from __future__ import annotations

import contextlib
import gzip
import html
import json
import os
import re
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote as url_quote

ERASED = b"[erased]"
_CHUNK = 4 << 20
_OVERLAP = 4096  # longer than any term: a match across two chunks is seen whole in one of them


@dataclass
class Terms:
    """A subject's values as they may appear in bytes (see the module docstring)."""

    values: dict[str, set[str]] = field(default_factory=dict)  # label (a column) -> distinctive values
    keyed: dict[str, set[str]] = field(default_factory=dict)  # column -> values identifying beside its name

    def __post_init__(self) -> None:
        self._compiled: tuple[list[tuple[str, re.Pattern[bytes]]], list[tuple[str, re.Pattern[bytes]]]] | None = None

    def add_value(self, label: str, value: str) -> None:
        self.values.setdefault(label, set()).add(value)
        self._compiled = None

    def add_keyed(self, column: str, value: str) -> None:
        self.keyed.setdefault(column, set()).add(value)
        self._compiled = None

    def _patterns(self) -> tuple[list[tuple[str, re.Pattern[bytes]]], list[tuple[str, re.Pattern[bytes]]]]:
        if self._compiled is None:
            plain = [
                (label, _alternation(sorted({f for v in values for f in _forms(v)}, key=len, reverse=True)))
                for label, values in sorted(self.values.items())
                if values
            ]
            keyed = [
                (
                    column,
                    re.compile(
                        rb"(?<![\w])("
                        + re.escape(column.encode())
                        + rb"(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)("
                        + b"|".join(re.escape(v.encode()) for v in sorted(values, key=len, reverse=True))
                        + rb")(?![\w.\-])",
                        re.IGNORECASE,
                    ),
                )
                for column, values in sorted(self.keyed.items())
                if values
            ]
            self._compiled = (plain, keyed)
        return self._compiled

    def hits(self, data: bytes) -> set[str]:
        """Labels (column names, never the values) of the terms found in ``data``."""
        plain, keyed = self._patterns()
        return {label for label, p in plain if p.search(data)} | {c for c, p in keyed if p.search(data)}

    def redact(self, data: bytes) -> bytes:
        plain, keyed = self._patterns()
        for _, p in plain:
            data = p.sub(ERASED, data)
        for _, p in keyed:
            data = p.sub(_keyed_replacement, data)
        return data

    def redact_text(self, text: str) -> str:
        return self.redact(text.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


def _keyed_replacement(m: re.Match[bytes]) -> bytes:
    # A quoted value becomes "[erased]"; a bare one (a number in JSON or a repr) becomes null, a token
    # valid in JSON, in Python's and DuckDB's renderings and inside a JSON string alike: Dagster must
    # still be able to read its event records.
    return m.group(1) + (ERASED if m.group(1)[-1:] in (b'"', b"'") else b"null")


def _forms(value: str) -> set[str]:
    forms = {value, json.dumps(value)[1:-1], html.escape(value), url_quote(value, safe="")}
    return {f for f in forms if f}


def _alternation(forms: list[str]) -> re.Pattern[bytes]:
    return re.compile(b"|".join(re.escape(f.encode()) for f in forms), re.IGNORECASE)


def chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes in overlapping chunks."""
    with path.open("rb") as f:
        tail = b""
        while block := f.read(_CHUNK):
            yield tail + block
            tail = block[-_OVERLAP:]


def raw_hits(path: Path, terms: Terms) -> set[str]:
    """Labels of the terms present in the file's raw bytes (compressed content is not looked into)."""
    found: set[str] = set()
    for chunk in chunks(path):
        found |= terms.hits(chunk)
    return found


def _replace(path: Path, write) -> None:
    """Write a new version of ``path`` beside it, then rename it over (atomic; mode kept)."""
    tmp = path.with_name(f".{path.name}.erasing")
    try:
        with tmp.open("wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def redact_text_file(path: Path, terms: Terms) -> bool:
    """Rewrite a text file (a log, JSON lines, HTML, CSV) with the terms redacted; True if it changed.

    Line by line, so a multi-gigabyte log needs no more memory than its longest line."""
    if not raw_hits(path, terms):
        return False

    def write(out) -> None:
        with path.open("rb") as f:
            for line in f:
                out.write(terms.redact(line))

    _replace(path, write)
    return True


def gzip_hits(path: Path, terms: Terms) -> set[str]:
    found: set[str] = set()
    with gzip.open(path, "rb") as f:
        tail = b""
        while block := f.read(_CHUNK):
            found |= terms.hits(tail + block)
            tail = block[-_OVERLAP:]
    return found


def redact_gzip_file(path: Path, terms: Terms) -> bool:
    """A gzip-compressed text file: decompressed, redacted line by line, compressed again."""
    if not gzip_hits(path, terms):
        return False

    def write(out) -> None:
        with gzip.open(path, "rb") as f, gzip.GzipFile(fileobj=out, mode="wb") as z:
            for line in f:
                z.write(terms.redact(line))

    _replace(path, write)
    return True


def _maybe_zlib(value: bytes) -> bytes | None:
    # Dagster stores its snapshots zlib-compressed in BLOB columns.
    if value[:1] != b"\x78":
        return None
    with contextlib.suppress(zlib.error):
        return zlib.decompress(value)
    return None


def _scrub_value(terms: Terms):
    def scrub(value):
        if isinstance(value, str):
            return terms.redact_text(value)
        if isinstance(value, bytes):
            inner = _maybe_zlib(value)
            if inner is not None:
                return zlib.compress(terms.redact(inner)) if terms.hits(inner) else value
            return terms.redact(value)
        return value

    return scrub


def _text_columns(con: sqlite3.Connection) -> Iterator[tuple[str, str]]:
    tables = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()
    for (table,) in tables:
        for _, column, ctype, *_ in con.execute(f'PRAGMA table_info("{table}")').fetchall():
            if not ctype or any(t in ctype.upper() for t in ("CHAR", "TEXT", "CLOB", "BLOB", "JSON")):
                yield table, column


def sqlite_hits(path: Path, terms: Terms) -> set[str]:
    """Terms in a SQLite database: its raw bytes, and inside its zlib-compressed values."""
    found = raw_hits(path, terms)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        for table, column in _text_columns(con):
            for (value,) in con.execute(f'SELECT "{column}" FROM "{table}" WHERE typeof("{column}") = \'blob\''):
                if (inner := _maybe_zlib(value)) is not None:
                    found |= terms.hits(inner)
    finally:
        con.close()
    return found


def redact_sqlite(path: Path, terms: Terms) -> int:
    """Redact the terms in every text and BLOB value of a SQLite database (Dagster's instance storage),
    then VACUUM it, so the old values do not linger in free pages, and truncate its write-ahead log.
    Returns the number of values changed. Waits up to 30 s for a writer (a running daemon) to let go."""
    con = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    changed = 0
    try:
        hit = terms.hits  # a cheap filter in SQL: only values holding a term are rewritten
        con.create_function("erasure_hit", 1, lambda v: bool(v) and _value_hit(v, hit), deterministic=True)
        con.create_function("erasure_scrub", 1, _scrub_value(terms), deterministic=True)
        con.execute("BEGIN IMMEDIATE")
        for table, column in list(_text_columns(con)):
            cur = con.execute(
                f'UPDATE "{table}" SET "{column}" = erasure_scrub("{column}") WHERE erasure_hit("{column}")'
            )
            changed += cur.rowcount
        con.execute("COMMIT")
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return changed


def _value_hit(value, hit) -> bool:
    if isinstance(value, str):
        return bool(hit(value.encode("utf-8", "surrogateescape")))
    if isinstance(value, bytes):
        inner = _maybe_zlib(value)
        return bool(hit(inner if inner is not None else value))
    return False
