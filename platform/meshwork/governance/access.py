"""The access-request flow for restricted ports: request, approve, deny, revoke, with expiry.

Grants live in two places: in the producer's descriptor (``outputPorts[].grants``, reviewed like
code) and in this runtime store under ``$MESH_HOME/governance/access.json``, filled by
``mesh access …``. Every request and decision is written to the hash-chained audit log, and an
approval in the store only counts if the audit log holds that very approval: a grant typed into
the store by hand is reported as forged and ignored.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from meshwork.core import audit, settings
from meshwork.core.errors import MeshError
from meshwork.model.descriptors import Grant, Visibility

Status = Literal["pending", "approved", "denied", "revoked"]


class AccessError(MeshError):
    """A request or decision that cannot be taken; nothing was changed."""


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
def _store() -> Iterator[list[AccessRequest]]:
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


def request(
    mesh, consumer: str, port_ref: str, reason: str, pii: bool = False, expires: date | None = None
) -> AccessRequest:
    product = mesh.products.get(consumer)
    if product is None:
        raise AccessError(f"unknown consumer product '{consumer}'")
    producer_key, _, version = port_ref.partition("@")
    producer = mesh.products.get(producer_key)
    port = producer.port(int(version[1:])) if producer and version[1:].isdigit() else None
    if port is None:
        raise AccessError(f"unknown port '{port_ref}' (write it as <domain>/<product>@v<major>)")
    if port.visibility == Visibility.PUBLIC:
        raise AccessError(f"{port_ref} is public: no grant is needed")
    if port.visibility == Visibility.PRIVATE:
        raise AccessError(f"{port_ref} is private to domain '{producer.domain}' and cannot be granted")
    if producer.domain == product.domain:
        raise AccessError(f"{consumer} is in the producing domain and needs no grant")
    if not reason.strip():
        raise AccessError("a request needs a reason (--reason)")
    if expires and expires < mesh.today:
        raise AccessError(f"the expiry {expires} is in the past")
    with _store() as requests:
        if any(r.consumer == consumer and r.port == port_ref and r.status in ("pending", "approved") for r in requests):
            raise AccessError(f"{consumer} already has a pending or approved request for {port_ref}")
        made = AccessRequest(
            id=uuid.uuid4().hex[:10],
            consumer=consumer,
            port=port_ref,
            reason=reason,
            pii=pii,
            expires=expires.isoformat() if expires else None,
            status="pending",
            requested_at=datetime.now(UTC).isoformat(),
        )
        requests.append(made)
        audit.record(
            "access.request",
            request=made.id,
            consumer=consumer,
            port=port_ref,
            reason=reason,
            pii=pii,
            expires=made.expires,
        )
    return made


_TRANSITIONS: dict[str, tuple[Status, Status]] = {
    "approve": ("pending", "approved"),
    "deny": ("pending", "denied"),
    "revoke": ("approved", "revoked"),
}


def decide(request_id: str, decision: str, by: str, expires: date | None = None) -> AccessRequest:
    if decision not in _TRANSITIONS:
        raise AccessError(f"unknown decision '{decision}'")
    if not by.strip():
        raise AccessError("a decision names who took it (--by)")
    before, after = _TRANSITIONS[decision]
    with _store() as requests:
        found = next((r for r in requests if r.id == request_id), None)
        if found is None:
            raise AccessError(f"no access request '{request_id}'")
        if found.status != before:
            raise AccessError(f"request {request_id} is {found.status}; only a {before} request can be {after}")
        if expires is not None:
            found.expires = expires.isoformat()
        found.status, found.decided_by, found.decided_at = after, by, datetime.now(UTC).isoformat()
        entry = audit.record(
            f"access.{decision}",
            request=found.id,
            consumer=found.consumer,
            port=found.port,
            pii=found.pii,
            expires=found.expires,
            by=by,
        )
        if decision == "approve":
            found.approval_hash = entry["hash"]
    return found
