"""The grant store: approved access to restricted ports, as decided through ``mesh access``.

Grants live in two places: in the producer's descriptor (``outputPorts[].grants``, reviewed like
code) and in this runtime store under ``$MESH_HOME/governance/access.json``. An approval in the store
only counts if the hash-chained audit log holds that very approval: a grant typed into the store by
hand is reported as forged and ignored. The mesh model reads the store (who may read what); the
request and decision flow that writes it is ``meshwork.governance.access``.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from meshwork.core import audit, settings
from meshwork.model.descriptors import Grant

Status = Literal["pending", "approved", "denied", "revoked"]


@dataclass
class AccessRequest:
    id: str
    consumer: str
    port: str
    reason: str
    pii: bool
    expires: str | None
    status: Status
    requested_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    approval_hash: str | None = None

    def grant(self) -> Grant:
        return Grant(
            consumer=self.consumer,
            purpose=self.reason,
            pii=self.pii,
            expires=date.fromisoformat(self.expires) if self.expires else None,
        )


def store_path() -> Path:
    return settings.mesh_home() / "governance" / "access.json"


@contextmanager
def locked_store() -> Iterator[list[AccessRequest]]:
    """The requests, locked for the whole change and written back atomically."""
    path = store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / ".access.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        requests = load()
        yield requests
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(r) for r in requests], indent=2), encoding="utf-8")
        os.replace(tmp, path)


def load() -> list[AccessRequest]:
    path = store_path()
    if not path.exists():
        return []
    return [AccessRequest(**r) for r in json.loads(path.read_text(encoding="utf-8"))]


def _approval_is_genuine(r: AccessRequest) -> bool:
    for entry in audit.entries("access.approve"):
        if entry.get("hash") == r.approval_hash:
            return (
                entry.get("request"),
                entry.get("consumer"),
                entry.get("port"),
                entry.get("pii"),
                entry.get("expires"),
            ) == (r.id, r.consumer, r.port, r.pii, r.expires)
    return False


def approved_grants() -> tuple[dict[str, list[Grant]], list[AccessRequest]]:
    """Genuine approved grants by port ref, and the approvals that are not in the audit log (forged)."""
    grants: dict[str, list[Grant]] = {}
    forged = []
    for r in load():
        if r.status != "approved":
            continue
        if _approval_is_genuine(r):
            grants.setdefault(r.port, []).append(r.grant())
        else:
            forged.append(r)
    return grants, forged


def access_requests() -> list[dict[str, Any]]:
    """Every access request as a dict, with ``forged`` true on approvals the audit log does not hold."""
    forged = {r.id for r in approved_grants()[1]}
    return [{**asdict(r), "forged": r.id in forged} for r in load()]
