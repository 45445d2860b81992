"""Tell the owning team when governance finds something, on every configured channel, and keep the record.

The governance sensors hand notices to ``deliver``. Channels (:mod:`meshwork.governance.channels`): a generic
JSON webhook (``MESH_NOTIFY_WEBHOOK``), a Slack-compatible webhook (``MESH_NOTIFY_SLACK``) and e-mail over SMTP
to the team's ``domain.yaml`` address (``MESH_NOTIFY_SMTP``). With none configured, the file outbox
``$MESH_HOME/governance/notifications.jsonl`` *is* the channel.

That file is also the journal: one line per notice per channel, saying what the team was told, where, when,
and whether it arrived (``mesh notices list``). A channel that is down, slow or refusing after its retries
loses nothing: the line keeps the notice as ``undelivered`` with the reason, and ``redeliver`` sends it later
on the same channel.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from meshwork.core import settings
from meshwork.governance import channels
from meshwork.governance.channels import Channel, Outcome
from meshwork.governance.notice import Kind, Notice, State

__all__ = ["Delivery", "Kind", "Notice", "State", "deliver", "outbox", "outbox_notices", "redeliver"]


@dataclass
class Delivery:
    delivered: int = 0  # notice deliveries that arrived (one per notice per channel)
    queued: int = 0  # kept in the outbox: undelivered, or the outbox being the channel
    error: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _lines(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)


def _append(records: list[dict]) -> None:
    path = settings.notifications_outbox()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # two sensors may write at once; lines must not interleave
        f.write(_lines(records))
        f.flush()
        os.fsync(f.fileno())


def _record(notice: Notice | dict, channel: str, outcome: Outcome) -> dict[str, Any]:
    base = asdict(notice) if isinstance(notice, Notice) else {k: v for k, v in notice.items() if k in _FIELDS}
    record = {**base, "channel": channel, "to": outcome.target, "sent_at": _now(), "attempts": outcome.attempts}
    if outcome.skipped:
        return record | {"delivered": False, "skipped": outcome.skipped}
    if outcome.error:
        return record | {"delivered": False, "undelivered": outcome.error}
    return record | {"delivered": True}


_FIELDS = set(Notice.__dataclass_fields__)


def _tally(outcomes: Iterable[tuple[str, Outcome]]) -> Delivery:
    d = Delivery()
    for name, o in outcomes:
        if o.error:
            d.queued += 1
            d.error = d.error or f"{name}: {o.error}"
        elif not o.skipped:
            d.delivered += 1
    return d


def deliver(notices: list[Notice]) -> Delivery:
    """Send every notice on every configured channel and journal each delivery; what a channel does not
    accept is kept in the outbox for ``redeliver``."""
    if not notices:
        return Delivery()
    configured = channels.configured()
    if not configured:
        _append([asdict(n) | {"channel": "outbox", "sent_at": _now()} for n in notices])
        return Delivery(queued=len(notices))
    records, outcomes = [], []
    for ch in configured:
        for n, outcome in zip(notices, ch.send(notices), strict=True):
            records.append(_record(n, ch.name, outcome))
            outcomes.append((ch.name, outcome))
    _append(records)
    return _tally(outcomes)


def outbox() -> list[dict]:
    path = settings.notifications_outbox()
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def redeliver() -> Delivery:
    """Send the notices a channel missed, on that channel; the ones it still refuses stay in the outbox."""
    by_name: dict[str, Channel] = {ch.name: ch for ch in channels.configured()}  # a bad URL fails first
    path = settings.notifications_outbox()
    if not path.is_file():
        return Delivery()
    with path.open("r+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        records = [json.loads(line) for line in f.read().splitlines() if line.strip()]
        pending: dict[str, list[int]] = {}
        for i, r in enumerate(records):
            if r.get("undelivered"):
                pending.setdefault(r["channel"], []).append(i)
        if not pending:
            return Delivery()
        outcomes: list[tuple[str, Outcome]] = []
        for name, rows in pending.items():
            ch = by_name.get(name)
            if ch is None:
                why = f"the {name} channel is no longer configured"
                outcomes += [(name, Outcome(records[i].get("to"), why, 0)) for i in rows]
                continue
            sent = ch.send([Notice(**{k: v for k, v in records[i].items() if k in _FIELDS}) for i in rows])
            for i, outcome in zip(rows, sent, strict=True):
                attempts = records[i].get("attempts", 1) + outcome.attempts
                records[i] = _record(records[i], name, outcome) | {"attempts": attempts}
                if not outcome.error:
                    records[i]["redelivered"] = True
                outcomes.append((name, outcome))
        f.seek(0)
        f.truncate()
        f.write(_lines(records))
        f.flush()
        os.fsync(f.fileno())
    return _tally(outcomes)


def outbox_notices(team: str | None = None, undelivered: bool = False, channel: str | None = None) -> list[dict]:
    """The journal: only ``team``'s if given, only those no channel accepted yet if ``undelivered``, only
    one ``channel``'s (outbox, webhook, slack, email) if given."""
    return [
        n
        for n in outbox()
        if (team is None or n["team"] == team)
        and (not undelivered or n.get("undelivered"))
        and (channel is None or n.get("channel") == channel)
    ]
