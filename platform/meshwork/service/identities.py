"""Identities the control plane issues: one per domain (its runs) and one per person.

A token is ``mw_<id>.<secret>``; the service keeps only the secret's SHA-256 (the secret is 256 random
bits, so a fast hash is enough), shows the token once, and compares in constant time. Rotating issues a
new secret (and new storage keys for a domain) and invalidates the old at once; revoking disables the
identity and deletes its storage keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshwork.core.errors import MeshError
from meshwork.core.names import check_identifier
from meshwork.service.state import Identity, now

PREFIX = "mw_"
PII_APPROVER = "pii-approver"
ADMIN = "admin"


class IdentityError(MeshError):
    """An identity that cannot be issued, rotated or revoked as asked; nothing was changed."""


@dataclass(frozen=True)
class Issued:
    identity: Identity
    token: str
    storage: dict[str, str] | None = None  # a domain's own storage keys, shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret(identity: Identity) -> str:
    secret = secrets.token_urlsafe(32)
    identity.secret_sha256 = _hash(secret)
    return f"{PREFIX}{identity.id}.{secret}"


def issue(s: Session, kind: str, name: str, teams: list[str] | None = None, roles: list[str] | None = None) -> Issued:
    if kind not in ("domain", "person"):
        raise IdentityError(f"an identity is a 'domain' or a 'person', not '{kind}'")
    if kind == "domain":
        check_identifier(name)
        teams = [name]
    if s.scalars(select(Identity).where(Identity.name == name, Identity.kind == kind, Identity.active)).first():
        raise IdentityError(f"{kind} '{name}' already has an active identity: rotate or revoke it")
    identity = Identity(id=secrets.token_hex(8), name=name, kind=kind, teams=teams or [], roles=roles or [])
    token = _new_secret(identity)
    s.add(identity)
    return Issued(identity, token)


def find(s: Session, kind: str, name: str) -> Identity:
    found = s.scalars(select(Identity).where(Identity.name == name, Identity.kind == kind, Identity.active)).first()
    if found is None:
        raise IdentityError(f"no active identity for {kind} '{name}'")
    return found


def rotate(s: Session, kind: str, name: str) -> Issued:
    identity = find(s, kind, name)
    token = _new_secret(identity)
    identity.rotated_at = now()
    return Issued(identity, token)


def revoke(s: Session, kind: str, name: str) -> Identity:
    identity = find(s, kind, name)
    identity.active = False
    identity.secret_sha256 = ""
    return identity


def authenticate(s: Session, token: str | None) -> Identity | None:
    """The active identity a token belongs to, or None (unknown, revoked, rotated away, malformed)."""
    if not token or not token.startswith(PREFIX) or "." not in token:
        return None
    ident_id, _, secret = token[len(PREFIX) :].partition(".")
    identity = s.get(Identity, ident_id)
    if identity is None or not identity.active or not identity.secret_sha256:
        return None
    return identity if hmac.compare_digest(identity.secret_sha256, _hash(secret)) else None


def describe(identity: Identity) -> dict:
    return {
        "id": identity.id,
        "kind": identity.kind,
        "name": identity.name,
        "teams": identity.teams,
        "roles": identity.roles,
        "active": identity.active,
        "storage_user": identity.storage_user,
        "issued_at": identity.issued_at.isoformat() if identity.issued_at else None,
        "rotated_at": identity.rotated_at.isoformat() if identity.rotated_at else None,
    }
