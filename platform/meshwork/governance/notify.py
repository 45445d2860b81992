"""Tell the owning team when governance finds something: a webhook, or a local file outbox.

The governance sensors hand notices to ``deliver``. With ``MESH_NOTIFY_WEBHOOK`` set, each batch is
POSTed as JSON (Slack/Teams/PagerDuty relays accept that shape through a small adapter); a webhook
that is down, slow or refusing never loses a notice: the batch goes to the file outbox with the
reason, and ``redeliver`` sends it later. Without a webhook the outbox *is* the channel.
"""

from __future__ import annotations

import fcntl
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from meshwork.core import settings

# definition: a domain does not load; version: a pinned input version is deprecated or about to be removed.
Kind = Literal["policy", "sla", "grant", "definition", "version"]
State = Literal["open", "resolved"]


@dataclass(frozen=True)
class Notice:
    team: str
    kind: Kind
    subject: str  # product key or domain
    severity: str
    message: str
    state: State = "open"
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    contact: str | None = None  # the owning team's address (its domain.yaml owner e-mail), for the receiver

    @property
    def fingerprint(self) -> str:
        return f"{self.kind}|{self.team}|{self.subject}|{self.message}"


@dataclass
class Delivery:
    delivered: int = 0
    queued: int = 0
    error: str | None = None


def _append_outbox(records: Iterable[dict]) -> int:
    path = settings.notifications_outbox()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    with path.open("a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # two sensors may write at once; lines must not interleave
        f.write(lines)
        f.flush()
        os.fsync(f.fileno())
    return lines.count("\n")


def _post(url: str, notices: list[Notice]) -> None:
    body = json.dumps({"source": "meshwork", "notices": [asdict(n) for n in notices]}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=settings.notify_timeout()) as response:  # noqa: S310 (configured URL)
        if response.status >= 300:
            raise urllib.error.HTTPError(url, response.status, "unexpected status", response.headers, None)


def deliver(notices: list[Notice]) -> Delivery:
    """Send to the webhook if there is one; whatever it does not accept is kept in the outbox."""
    if not notices:
        return Delivery()
    url = settings.notify_webhook()
    if url is None:
        return Delivery(queued=_append_outbox({**asdict(n), "channel": "outbox"} for n in notices))
    try:
        _post(url, notices)
    except (OSError, urllib.error.URLError) as exc:  # down, refused, timed out, HTTP error
        reason = f"{type(exc).__name__}: {exc}"
        queued = _append_outbox({**asdict(n), "channel": "webhook", "undelivered": reason} for n in notices)
        return Delivery(queued=queued, error=reason)
    # Delivered notices are journaled too, so `mesh notices list` shows what each team was told.
    _append_outbox({**asdict(n), "channel": "webhook", "delivered": True} for n in notices)
    return Delivery(delivered=len(notices))


def outbox() -> list[dict]:
    path = settings.notifications_outbox()
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def redeliver() -> Delivery:
    """Send the notices a webhook missed; the ones it still refuses stay in the outbox."""
    url = settings.notify_webhook()
    path = settings.notifications_outbox()
    if url is None or not path.is_file():
        return Delivery()
    with path.open("r+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        records = [json.loads(line) for line in f.read().splitlines() if line.strip()]
        pending = [r for r in records if r.get("undelivered")]
        if not pending:
            return Delivery()
        fields = set(Notice.__dataclass_fields__)
        try:
            _post(url, [Notice(**{k: v for k, v in r.items() if k in fields}) for r in pending])
        except (OSError, urllib.error.URLError) as exc:
            return Delivery(queued=len(pending), error=f"{type(exc).__name__}: {exc}")
        kept = [
            {k: v for k, v in r.items() if k != "undelivered"} | {"redelivered": True, "delivered": True}
            for r in pending
        ]
        done = [r for r in records if not r.get("undelivered")] + kept
        f.seek(0)
        f.truncate()
        f.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in done))
        f.flush()
        os.fsync(f.fileno())
    return Delivery(delivered=len(pending))


def outbox_notices(team: str | None = None, undelivered: bool = False) -> list[dict[str, Any]]:
    """The outbox's notices: only ``team``'s if given, only those no webhook accepted yet if ``undelivered``."""
    return [n for n in outbox() if (team is None or n["team"] == team) and (not undelivered or n.get("undelivered"))]
