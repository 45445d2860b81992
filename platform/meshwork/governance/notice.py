"""A notice: what governance tells a team about one of its products or domains (see notify.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

# definition: a domain does not load; version: a pinned input version is deprecated or about to be removed.
Kind = Literal["policy", "sla", "grant", "definition", "version"]
# escalated: still open after MESH_NOTICE_ESCALATE_AFTER, told to the escalation contact.
State = Literal["open", "resolved", "escalated"]


@dataclass(frozen=True)
class Notice:
    team: str
    kind: Kind
    subject: str  # product key or domain
    severity: str
    message: str
    state: State = "open"
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    contact: str | None = None  # the team's address (its domain.yaml e-mail): e-mail goes there

    @property
    def fingerprint(self) -> str:
        """The breach's identity: its text names no age or time, so an ongoing breach keeps it."""
        return f"{self.kind}|{self.team}|{self.subject}|{self.message}"
