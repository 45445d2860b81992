"""Access requests and decisions, as the control plane enforces them.

- a request is made by a person of the consumer's owning team (or an admin);
- it is approved or denied by a person of the producing product's owning team, or, when it asks for
  PII in clear, also by a holder of the ``pii-approver`` role; never by the person who requested it;
- a decision takes effect on the next read: reads check the database, and a revocation also ends
  every credential already vended for that consumer and port.
Every request, decision and refusal is audited.
"""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshwork.model.descriptors import Grant, Visibility
from meshwork.model.mesh import Mesh
from meshwork.service import audit_table, meshmodel, vends
from meshwork.service.errors import Conflict, Forbidden, NotFound, ServiceRefusal
from meshwork.service.identities import ADMIN, PII_APPROVER
from meshwork.service.state import Identity, Request, now

TRANSITIONS = {"approve": ("pending", "approved"), "deny": ("pending", "denied"), "revoke": ("approved", "revoked")}


def _refuse(s: Session, who: Identity, action: str, reason: str, **fields) -> Forbidden:
    audit_table.record(s, f"{action}.refused", actor=who.name, reason=reason, **fields)
    s.commit()
    return Forbidden(reason)


def _port(mesh: Mesh, port_ref: str):
    producer_key, _, version = port_ref.partition("@")
    producer = mesh.products.get(producer_key)
    port = producer.port(int(version[1:])) if producer and version[1:].isdigit() else None
    if producer is None or port is None:
        raise NotFound(f"unknown port '{port_ref}' (write it as <domain>/<product>@v<major>)")
    return producer, port


def request(s: Session, who: Identity, consumer: str, port_ref: str, reason: str, pii: bool, expires: str | None):
    mesh = meshmodel.current()
    product = mesh.products.get(consumer)
    if product is None:
        raise NotFound(f"unknown consumer product '{consumer}'")
    producer, port = _port(mesh, port_ref)
    if who.kind != "person" or not (product.owner.team in who.teams or ADMIN in who.roles):
        raise _refuse(
            s, who, "access.request", f"{who.name} is not in team '{product.owner.team}', which owns {consumer}",
            consumer=consumer, port=port_ref,
        )  # fmt: skip
    if port.visibility != Visibility.RESTRICTED or producer.domain == product.domain:
        raise ServiceRefusal(f"{port_ref} is {port.visibility.value} to {consumer}: no grant can be requested")
    if not reason.strip():
        raise ServiceRefusal("a request needs a reason")
    if expires and date.fromisoformat(expires) < date.today():
        raise ServiceRefusal(f"the expiry {expires} is in the past")
    open_ = select(Request).where(
        Request.consumer == consumer, Request.port == port_ref, Request.status.in_(("pending", "approved"))
    )
    if s.scalars(open_).first():
        raise Conflict(f"{consumer} already has a pending or approved request for {port_ref}")
    made = Request(
        id=secrets.token_hex(5),
        consumer=consumer,
        port=port_ref,
        reason=reason,
        pii=pii,
        expires=expires,
        status="pending",
        requested_by=who.name,
    )
    s.add(made)
    audit_table.record(s, "access.request", actor=who.name, request=made.id, consumer=consumer, port=port_ref, pii=pii)
    s.commit()
    return made


def may_decide(who: Identity, producer_team: str, pii: bool) -> bool:
    return who.kind == "person" and (
        producer_team in who.teams or ADMIN in who.roles or (pii and PII_APPROVER in who.roles)
    )


def decide(s: Session, who: Identity, request_id: str, decision: str, expires: str | None = None) -> Request:
    if decision not in TRANSITIONS:
        raise ServiceRefusal(f"unknown decision '{decision}'")
    found = s.get(Request, request_id)
    if found is None:
        raise NotFound(f"no access request '{request_id}'")
    producer, _port_obj = _port(meshmodel.current(), found.port)
    fields = {"request": found.id, "consumer": found.consumer, "port": found.port}
    if decision != "revoke" and who.name == found.requested_by:
        raise _refuse(s, who, f"access.{decision}", "the requester cannot decide its own request", **fields)
    if not may_decide(who, producer.owner.team, found.pii):
        role = f" nor holds the '{PII_APPROVER}' role" if found.pii else ""
        reason = f"{who.name} is not in team '{producer.owner.team}', which owns {found.port}{role}"
        raise _refuse(s, who, f"access.{decision}", reason, **fields)
    before, after = TRANSITIONS[decision]
    if found.status != before:
        article = "an" if before[0] in "aeiou" else "a"
        raise Conflict(f"request {request_id} is {found.status}; only {article} {before} request can be {after}")
    if expires is not None:
        found.expires = expires
    found.status, found.decided_by, found.decided_at = after, who.name, now()
    if decision == "revoke":
        vends.end_for(s, found.consumer, found.port)
    audit_table.record(s, f"access.{decision}", actor=who.name, pii=found.pii, expires=found.expires, **fields)
    s.commit()
    return found


def live_grant(s: Session, consumer: str, port) -> Grant | None:
    """The grant that lets ``consumer`` read ``port`` today: reviewed in the descriptor, or approved here."""
    today = date.today()
    approved = s.scalars(
        select(Request).where(Request.consumer == consumer, Request.port == port.ref, Request.status == "approved")
    ).all()
    expiry = {r.id: date.fromisoformat(r.expires) if r.expires else None for r in approved}
    from_requests = [Grant(consumer=r.consumer, purpose=r.reason, pii=r.pii, expires=expiry[r.id]) for r in approved]
    candidates = [*port.spec.grants, *from_requests]
    return next((g for g in candidates if g.consumer == consumer and g.is_valid(today)), None)


def describe(r: Request) -> dict:
    return {
        "id": r.id,
        "consumer": r.consumer,
        "port": r.port,
        "reason": r.reason,
        "pii": r.pii,
        "expires": r.expires,
        "status": r.status,
        "requested_by": r.requested_by,
        "requested_at": r.requested_at.isoformat() if r.requested_at else None,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at.isoformat() if r.decided_at else None,
    }
