"""Vended reads: short-lived, per-snapshot storage credentials, and their end (expiry or revocation)."""

from __future__ import annotations

import secrets
import threading
import time
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshwork.core import settings
from meshwork.service.state import Vend
from meshwork.service.vending import StorageIAM


@cache
def storage() -> StorageIAM:
    return StorageIAM()


# Live vends by what they grant, with their keys (kept in memory only, never in the database): a
# consumer resolving the same files again within half a TTL gets the same keys instead of a new IAM
# user. Every resolve is still checked and audited; revocation and expiry drop the entry.
_live: dict[tuple[str, str, str, tuple[str, ...]], tuple[Vend, dict[str, str]]] = {}
_lock = threading.Lock()


def vend(s: Session, consumer: str, port: str, snapshot_id: str, keys: list[str]) -> tuple[Vend, dict[str, str]]:
    wanted = (consumer, port, snapshot_id, tuple(keys))
    with _lock:
        cached = _live.get(wanted)
    if cached and cached[0].expires_at - time.time() > settings.vend_ttl() / 2:
        return cached
    record = Vend(
        id=secrets.token_hex(6),
        consumer=consumer,
        port=port,
        snapshot_id=snapshot_id,
        expires_at=time.time() + settings.vend_ttl(),
    )
    record.storage_user = f"mesh-vend-{record.id}"
    s.add(record)
    s.flush()  # recorded before the user exists: a crash in between leaves a row the sweeper ends
    credentials = storage().create_user(record.storage_user, storage().read_policy(keys))
    with _lock:
        _live[wanted] = (record, credentials)
    return record, credentials


def _end(v: Vend) -> None:
    with _lock:
        for wanted in [w for w, (live, _) in _live.items() if live.id == v.id]:
            del _live[wanted]
    if v.storage_user:
        storage().delete_user(v.storage_user)
    v.ended = True


def end_for(s: Session, consumer: str, port: str) -> int:
    live = s.scalars(select(Vend).where(Vend.consumer == consumer, Vend.port == port, Vend.ended.is_(False))).all()
    for v in live:
        _end(v)
    return len(live)


def sweep(s: Session) -> int:
    """End every vend past its expiry; the service runs this every few seconds."""
    expired = s.scalars(select(Vend).where(Vend.ended.is_(False), Vend.expires_at <= time.time())).all()
    for v in expired:
        _end(v)
    s.commit()
    # A vend whose transaction never committed has no row to find: end it from memory too.
    with _lock:
        stale = [live for live, _ in _live.values() if live.expires_at <= time.time()]
    for v in stale:
        _end(v)
    return len(expired)
