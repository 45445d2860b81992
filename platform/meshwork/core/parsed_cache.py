"""Parsed YAML documents remembered on disk, keyed by the hash of the file's bytes.

Parsing YAML in Python (libyaml scans, but PyYAML builds every node in Python, and the limit checks of
:mod:`meshwork.core.yamlsafe` walk the events once more) was most of a mesh load: ~3 ms a document,
two documents a product. What a parse gives depends only on the bytes and on the parser, so a
successful parse is stored under ``$MESH_HOME/cache/yaml/`` named by the SHA-256 of both; the next
load reads it back in microseconds.

Guarantees (tests/unit/core/test_parsed_cache.py):

- a changed file has another hash, so it is parsed anew: an entry can never stand for other bytes;
- only successful parses are stored: a file that is not YAML, or crosses a limit, is parsed (and
  refused, with its current message) every time;
- an entry that does not read back (truncated, corrupt, another format) is ignored and rewritten;
  each entry carries the hash of its payload, so damage that still unpickles is caught too;
- entries are read with an unpickler that builds nothing but plain data (the types a safe YAML load
  produces), so a planted entry cannot run code;
- a read-only or missing ``MESH_HOME`` only loses the cache (the document is parsed as before).

Validation (pydantic, the ODCS schema, Meshwork's own checks) is not cached: it runs on every load,
so its errors are always current.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meshwork.core import settings

FORMAT = b"meshwork-parsed-yaml/1\n"
_DIGEST = 32  # bytes of the payload's SHA-256 written after FORMAT

# What pickles of safe-YAML data refer to by name (dates and times; containers and scalars are opcodes).
_ALLOWED = {("datetime", "date"), ("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta")}


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


_dirs: dict[tuple[str | None, str | None, str], Path] = {}


def _folder() -> Path:
    # settings.cache_dir() resolves MESH_HOME on every call (~50 us, as much as reading an entry):
    # remembered per value of what it is computed from.
    key = (os.environ.get("MESH_HOME"), os.environ.get("MESH_PROJECT_DIR"), os.getcwd())
    if key not in _dirs:
        _dirs[key] = settings.cache_dir() / "yaml"
    return _dirs[key]


def _entry(parser: str, content: bytes) -> Path:
    digest = hashlib.sha256(parser.encode() + b"\0" + content).hexdigest()
    return _folder() / digest[:2] / digest


def _read(entry: Path) -> tuple[bool, Any]:
    """(found, value): found is False for a missing or damaged entry."""
    try:
        blob = entry.read_bytes()
    except OSError:
        return False, None
    start = len(FORMAT) + _DIGEST
    head, digest, payload = blob[: len(FORMAT)], blob[len(FORMAT) : start], blob[start:]
    if head != FORMAT or hashlib.sha256(payload).digest() != digest:
        return False, None
    try:
        return True, _DataOnly(io.BytesIO(payload)).load()
    except Exception:  # noqa: BLE001 - any damage is a cache miss, never an error of the document
        return False, None


def _write(entry: Path, value: Any) -> None:
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, RecursionError):
        return
    blob = FORMAT + hashlib.sha256(payload).digest() + payload
    # Written aside and renamed: a reader never sees half an entry (the name is this thread's own).
    tmp = entry.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{entry.name}")
    try:
        try:
            tmp.write_bytes(blob)
        except FileNotFoundError:  # the first entry of its folder (one mkdir, not one per entry)
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(blob)
        os.replace(tmp, entry)
    except OSError:  # a read-only or full MESH_HOME only loses the cache
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def parsed(content: bytes, parser: str, parse: Callable[[bytes], Any]) -> Any:
    """``parse(content)``, or what it returned for the same bytes and ``parser`` before.

    ``parser`` names the parser and everything its result depends on (its version, its limits): a
    change of any of them must change the string. An exception of ``parse`` propagates and nothing
    is stored.
    """
    entry = _entry(parser, content)
    found, value = _read(entry)
    if found:
        return value
    value = parse(content)
    _write(entry, value)
    return value
