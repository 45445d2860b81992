"""What the governance sensors say, tick after tick: one notice when a breach opens, one when it ends, and
one escalation when an error stays open longer than ``MESH_NOTICE_ESCALATE_AFTER`` (default 24h, ``off``).

A breach is known by its notice's fingerprint (kind, team, subject, text without any age), so a port that
merely stays stale is one open notice, not one per tick. The sensor's cursor remembers, per open breach,
what was said, since when, and whom it was escalated to. An escalation goes to the domain's
``escalation`` contact in ``domain.yaml`` (``escalation: {team: …, email: …}``), else to the platform team
(``MESH_NOTICE_ESCALATE_TO``); when an escalated breach ends, both hear of it. Only errors escalate:
warnings (a grant expiring in two weeks, a version to leave within a month) have their own dates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from meshwork.core import durations, settings
from meshwork.governance.notice import Notice
from meshwork.model.mesh import Mesh

PLATFORM = "platform"


@dataclass(frozen=True)
class Contact:
    team: str
    email: str | None


def escalate_after() -> timedelta | None:
    raw = settings.notice_escalation()[0].strip()
    return None if raw.lower() in ("off", "never", "") else durations.parse(raw, "MESH_NOTICE_ESCALATE_AFTER")


def platform_contact() -> Contact:
    return Contact(PLATFORM, settings.notice_escalation()[1])


def contacts(mesh: Mesh) -> dict[str, Contact]:
    """Each owning team's escalation contact: its domain's ``escalation`` entry, else the platform team."""
    out: dict[str, Contact] = {}
    for domain in mesh.domains.values():
        esc = domain.descriptor.escalation
        team = domain.descriptor.owner.team
        if esc is not None or team not in out:
            out[team] = Contact(esc.team, esc.email) if esc else platform_contact()
    return out


def track(
    notices: Iterable[Notice],
    cursor: str | None,
    now: datetime,
    escalation: Mapping[str, Contact] | None = None,
    after: timedelta | None = None,
) -> tuple[list[Notice], str]:
    """The notices to send now (new breaches, escalations, resolutions) and the next cursor. ``after``
    defaults to the setting; ``escalation`` maps an owning team to its contact (default: the platform)."""
    after = escalate_after() if after is None else after
    before: dict[str, dict] = json.loads(cursor) if cursor else {}
    state: dict[str, dict] = {}
    out: list[Notice] = []
    for n in notices:
        if n.fingerprint in state:
            continue
        seen = before.get(n.fingerprint)
        since: str = (seen or {}).get("since") or now.isoformat()
        entry = {
            "team": n.team,
            "kind": n.kind,
            "subject": n.subject,
            "severity": n.severity,
            "message": n.message,
            "contact": n.contact,
            "since": since,  # a cursor from before escalation existed has none: counted from now
            "escalated_to": (seen or {}).get("escalated_to"),
        }
        if seen is None:
            out.append(n)
        open_for = now - datetime.fromisoformat(since)
        if after and n.severity == "error" and not entry["escalated_to"] and open_for >= after:
            to = (escalation or {}).get(n.team) or platform_contact()
            owner = f"{n.team} <{n.contact}>" if n.contact else n.team
            text = f"unresolved for {durations.humanize(open_for)} (owner {owner}): {n.message}"
            out.append(Notice(to.team, n.kind, n.subject, n.severity, text, state="escalated", contact=to.email))
            entry["escalated_to"] = [to.team, to.email]
        state[n.fingerprint] = entry
    for fp, gone in before.items():
        if fp in state:
            continue
        told = [(gone["team"], gone.get("contact"))]
        if gone.get("escalated_to"):
            told.append(tuple(gone["escalated_to"]))
        for team, contact in dict.fromkeys(told):
            out.append(
                Notice(team, gone["kind"], gone["subject"], "info", gone["message"], state="resolved", contact=contact)
            )
    return out, json.dumps(state, sort_keys=True)
