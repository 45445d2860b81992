"""Vended reads: short-lived, per-snapshot storage credentials, and their end (expiry or revocation)."""

from __future__ import annotations

import secrets
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


def vend(s: Session, consumer: str, port: str, snapshot_id: str, keys: list[str]) -> tuple[Vend, dict[str, str]]:
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
    return record, credentials


def _end(v: Vend) -> None:
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
    return len(expired)
