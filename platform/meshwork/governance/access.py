"""The access-request flow for restricted ports: request, approve, deny, revoke, with expiry.

Every request and decision is written to the hash-chained audit log; the approved grants are kept in
the grant store (:mod:`meshwork.model.grants`), which counts an approval only if the audit log proves it.
Whoever requests access cannot approve it. Names (``by``) are what people say they are: local mode has
no login, so this stops a slip, not an impostor; the log records the name for the review.
"""

from __future__ import annotations

import getpass
import os
import uuid
from datetime import UTC, date, datetime

from meshwork.core import audit
from meshwork.core.errors import MeshError
from meshwork.model.descriptors import Visibility
from meshwork.model.grants import AccessRequest, Status, locked_store


class AccessError(MeshError):
    """A request or decision that cannot be taken; nothing was changed."""


def os_user() -> str:
    """Who runs this process, as the operating system names them (the default requester)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry, as in some containers
        return f"uid {os.getuid()}"


def request(
    mesh,
    consumer: str,
    port_ref: str,
    reason: str,
    pii: bool = False,
    expires: date | None = None,
    by: str | None = None,
) -> AccessRequest:
    by = (by if by is not None else os_user()).strip()
    if not by:
        raise AccessError("a request names who makes it (--by)")
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
    with locked_store() as requests:
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
            requested_by=by,
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
            by=by,
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
    by = by.strip()
    if not by:
        raise AccessError("a decision names who took it (--by)")
    before, after = _TRANSITIONS[decision]
    with locked_store() as requests:
        found = next((r for r in requests if r.id == request_id), None)
        if found is None:
            raise AccessError(f"no access request '{request_id}'")
        if found.status != before:
            article = "an" if before[0] in "aeiou" else "a"
            raise AccessError(f"request {request_id} is {found.status}; only {article} {before} request can be {after}")
        if decision == "approve" and found.requested_by and _same_person(by, found.requested_by):
            raise AccessError(
                f"{by} requested {request_id} and cannot approve it: someone else approves, such as an owner of "
                f"the producing product"
            )
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


def _same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()
