"""Append-only, hash-chained audit log (JSON lines under ``$MESH_HOME/audit``).

Every port read (and refusal), grant decision and erasure is one line. Each line carries the hash of
the previous line and its own hash over its content, so editing, removing or reordering any line
breaks the chain from that point: ``mesh audit verify`` finds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshwork.core import settings

GENESIS = "0" * 64


def log_path() -> Path:
    return settings.mesh_home() / "audit" / "audit.jsonl"


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _last_hash(f) -> str:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size == 0:
        return GENESIS
    block = min(size, 1 << 16)
    f.seek(size - block)
    last = f.read(block).splitlines()[-1]
    return json.loads(last)["hash"]


def record(action: str, **fields: Any) -> dict[str, Any]:
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        # One writer at a time across processes: the chain needs the true previous line.
        fcntl.flock(f, fcntl.LOCK_EX)
        entry = {"at": datetime.now(UTC).isoformat(), "action": action, **fields, "prev": _last_hash(f)}
        entry["hash"] = _digest(entry)
        f.seek(0, os.SEEK_END)
        f.write((json.dumps(entry, sort_keys=True, default=str) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())
    return entry


def entries(action: str | None = None) -> list[dict[str, Any]]:
    path = log_path()
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if action is None or r["action"] == action or r["action"].startswith(f"{action}.")]


def verify() -> list[str]:
    """Problems in the chain (line numbers are 1-based); empty when the log is intact."""
    path = log_path()
    if not path.exists():
        return []
    problems, prev = [], GENESIS
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"line {n}: not JSON")
            break
        if entry.get("prev") != prev:
            problems.append(f"line {n}: does not follow line {n - 1} (a line was removed, inserted or reordered)")
            break
        if entry.get("hash") != _digest(entry):
            problems.append(f"line {n}: its content does not match its hash (the line was edited)")
            break
        prev = entry["hash"]
    return problems


def query(
    action: str | None = None, consumer: str | None = None, port: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The last ``limit`` entries of ``action`` (and its sub-actions), of ``consumer`` and ``port`` if given."""
    rows = [
        r
        for r in entries(action)
        if (consumer is None or r.get("consumer") == consumer) and (port is None or r.get("port") == port)
    ]
    return rows[-limit:]
