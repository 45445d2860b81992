"""Append-only audit log of port reads and other governed actions (JSON lines under ``$MESH_HOME``)."""

from __future__ import annotations

import fcntl
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshwork import settings


def log_path() -> Path:
    return settings.mesh_home() / "audit" / "audit.jsonl"


def record(action: str, **fields: Any) -> dict[str, Any]:
    entry = {"at": datetime.now(UTC).isoformat(), "action": action, **fields}
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        # One writer at a time across processes, so lines never interleave.
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
        f.flush()
    return entry


def entries(action: str | None = None) -> list[dict[str, Any]]:
    path = log_path()
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if action is None or r["action"] == action]
