"""The lines of the file audit log (``meshwork.core.audit``) read as entries.

``parse`` keeps every line in its place, so that line numbers, and the lines the signed checkpoints cover,
stay true past a line that is not an entry: that line is held as ``{}``, with why it is not one (not JSON,
not an object, or without the text ``action``, ``prev`` and ``hash`` every entry has). ``report`` says the
first such line with its file, number and reason, and how many more. ``last`` reads the last line from the
end of the file, however long it is, and ``hash_of`` is what the next entry chains to.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any

FIELDS = ("action", "prev", "hash")


def parse(text: str) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Every line's entry (``{}`` for a line that is not one), and why each such line is not, by line number."""
    rows: list[dict[str, Any]] = []
    unreadable: dict[int, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        entry, why = _entry(line)
        rows.append(entry)
        if why:
            unreadable[n] = why
    return rows, unreadable


def _entry(line: str) -> tuple[dict[str, Any], str | None]:
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, f"not JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(entry, dict):
        return {}, "not an audit entry (JSON, but not an object)"
    if missing := [field for field in FIELDS if not isinstance(entry.get(field), str)]:
        return {}, f"not an audit entry (its {', '.join(missing)} missing or not text)"
    return entry, None


def report(path: Path, unreadable: dict[int, str]) -> list[str]:
    """The first unreadable line and how many more: one damaged stretch must not make a thousand lines."""
    if not unreadable:
        return []
    (n, why), more = next(iter(unreadable.items())), len(unreadable) - 1
    count = f" (and {more} more unreadable line{'s' if more > 1 else ''})" if more else ""
    return [f"{path} line {n}: {why}{count}"]


def last(f: IO[bytes]) -> bytes | None:
    """The last line of ``f`` (None if it has none), read from the end in growing chunks."""
    end, size = f.seek(0, os.SEEK_END), 1 << 16
    while True:
        f.seek(start := max(0, end - size))
        body = f.read().rstrip(b"\n")
        if not start or b"\n" in body:
            return body.rsplit(b"\n", 1)[-1] or None
        size *= 4  # the last entry is longer than the chunk read: read more of the end


def hash_of(line: bytes) -> str:
    """The ``hash`` of the entry on ``line``; if it is not an entry, the SHA-256 of its bytes as found. What
    follows an unreadable line cannot be signed anyway (it does not chain to the signed head), but it is
    still recorded: a damaged log must not fail every port read."""
    entry, _ = _entry(line.decode(errors="replace"))
    return entry["hash"] if entry else hashlib.sha256(line).hexdigest()
