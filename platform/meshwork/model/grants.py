"""The grant store: approved access to restricted ports, as decided through ``mesh access``.

Grants live in two places: in the producer's descriptor (``outputPorts[].grants``, reviewed like
code) and in this runtime store under ``$MESH_HOME/governance/access.json``. The store is only an
index: an approval in it counts if the audit log holds that very approval, in the part of the log a
signed checkpoint proves (its digest recomputed, not read), and no later deny or revoke of the request
follows it. Anything else (a grant typed into the store, an audit line forged to match it, a revoked
grant set back to approved) is reported as forged and ignored. The mesh model reads the store (who
may read what); the request and decision flow that writes it is ``meshwork.governance.access``.
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
    requested_by: str | None = None  # absent from stores written before it was recorded

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


_DECISIONS = ("access.approve", "access.deny", "access.revoke")


def _approval_is_genuine(r: AccessRequest, rows: list[dict[str, Any]], trusted: int, last: dict[str, int]) -> bool:
    """The last decision on ``r`` is its approval, in the proven part of the log, digest and fields matching."""
    # Every decision counts for "last", proven or not: a forged revocation can only take access away.
    i = last.get(r.id)
    if i is None or i >= trusted:
        return False
    entry = rows[i]
    return (
        entry.get("action") == "access.approve"
        and entry.get("hash") == audit.digest(entry) == r.approval_hash
        and (entry.get("request"), entry.get("consumer"), entry.get("port"), entry.get("pii"), entry.get("expires"))
        == (r.id, r.consumer, r.port, r.pii, r.expires)
    )


def approved_grants() -> tuple[dict[str, list[Grant]], list[AccessRequest]]:
    """Genuine approved grants by port ref, and the approvals the audit log does not prove (forged)."""
    grants: dict[str, list[Grant]] = {}
    forged: list[AccessRequest] = []
    approved = [r for r in load() if r.status == "approved"]
    if not approved:
        return grants, forged
    rows, trusted = audit.authenticated()
    last = {e["request"]: i for i, e in enumerate(rows) if e.get("action") in _DECISIONS and "request" in e}
    for r in approved:
        if _approval_is_genuine(r, rows, trusted, last):
            grants.setdefault(r.port, []).append(r.grant())
        else:
            forged.append(r)
    return grants, forged


def access_requests() -> list[dict[str, Any]]:
    """Every access request as a dict, with ``forged`` true on approvals the audit log does not prove."""
    forged = {r.id for r in approved_grants()[1]}
    return [{**asdict(r), "forged": r.id in forged} for r in load()]


def why_not_granted(consumer: str, port_ref: str, lapsed: list[Grant], deciders: str) -> str:
    """Why ``consumer`` holds no valid grant on ``port_ref``, and what to do next, from its access requests:
    none, pending (its id and who decides), denied, revoked, or a grant that expired."""
    mine = sorted((r for r in load() if r.consumer == consumer and r.port == port_ref), key=lambda r: r.requested_at)
    ask = f"request access with `mesh access request {consumer} {port_ref} --reason …`"
    pending = next((r for r in reversed(mine) if r.status == "pending"), None)
    if pending is not None:
        by = f" by {pending.requested_by}" if pending.requested_by else ""
        expired = f"its grant expired on {max(g.expires for g in lapsed if g.expires)} and " if lapsed else ""
        return (
            f"{expired}access request {pending.id} (made{by} on {pending.requested_at[:10]}) is pending: "
            f"{deciders} decide with `mesh access approve {pending.id} --by …` (or `deny`)"
        )
    expiries = [g.expires for g in lapsed if g.expires]
    if expiries:
        return f"its grant expired on {max(expiries)}; renew it: {ask}"
    last = mine[-1] if mine else None
    if last is None:
        return f"it has no grant and no access request; {ask} ({deciders} decide)"
    when = f" on {last.decided_at[:10]}" if last.decided_at else ""
    who = f" by {last.decided_by}" if last.decided_by else ""
    if last.status == "revoked":
        return f"its grant (request {last.id}) was revoked{who}{when}; if it is still needed, {ask}"
    if last.status == "denied":
        return f"access request {last.id} was denied{who}{when}; {ask} with a new reason, or ask {deciders}"
    # Approved in the store, yet no valid grant: the audit log does not prove the approval.
    return (
        f"access request {last.id} is marked approved, but the audit log does not prove that approval, so it "
        f"does not count (`mesh access list` flags it FORGED); {ask}"
    )
