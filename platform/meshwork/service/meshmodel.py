"""The mesh as the control plane sees it: loaded from its own checkout, reloaded when a descriptor changes.

The service reads descriptors and contracts (reviewed code) from ``MESH_PROJECT_DIR``; it never takes
a consumer's word for what it declares.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from meshwork.core import settings
from meshwork.model.loader import load_mesh
from meshwork.model.mesh import Mesh

_lock = threading.Lock()
_cached: tuple[tuple[int, int], Mesh] | None = None
_checked = 0.0
RECHECK_SECONDS = 1.0  # a descriptor edit is seen within a second; requests in between pay nothing


def _stamp(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")]
    return len(files), max((p.stat().st_mtime_ns for p in files), default=0)


def current() -> Mesh:
    global _cached, _checked
    with _lock:
        if _cached is None or time.monotonic() - _checked > RECHECK_SECONDS:
            stamp = _stamp(settings.domains_dir())
            if _cached is None or _cached[0] != stamp:
                # Not strict: a broken descriptor of one domain must not stop every other domain's reads.
                _cached = (stamp, load_mesh(settings.project_dir(), check_grants=False, strict=False))
            _checked = time.monotonic()
        return _cached[1]
