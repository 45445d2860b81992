"""Where the mesh metrics' values are kept: the latest value of each under ``$MESH_HOME/metrics/<name>.json``
and every summary appended to ``metrics/history.jsonl`` (the catalog's "over time" charts)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from meshwork.catalog.metrics import METRICS
from meshwork.core import settings

HISTORY = "history.jsonl"


def write(value: dict[str, Any]) -> Path:
    """Write a metric's latest value (atomically) and append its summary to the history."""
    folder = settings.metrics_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{value['name']}.json"
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(value, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    line = {"at": value["computed_at"], "name": value["name"], "summary": value["summary"]}
    with (folder / HISTORY).open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, default=str) + "\n")
    return path


def read_latest() -> dict[str, dict[str, Any]]:
    """The last materialized value of each metric, by name."""
    found = {}
    for metric in METRICS:
        path = settings.metrics_dir() / f"{metric.name}.json"
        with contextlib.suppress(OSError, ValueError):
            found[metric.name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def read_history() -> list[dict[str, Any]]:
    path = settings.metrics_dir() / HISTORY
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            rows.append(json.loads(line))
    return rows
