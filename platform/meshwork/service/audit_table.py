"""The control plane's audit log: an append-only table, hash-chained, with signed checkpoints.

Each row holds an entry with the hash of the previous entry and its own hash. After every append the
service signs a checkpoint of the new head (sequence number and hash) with its Ed25519 key, stores it
in the checkpoints table and also writes it to ``audit.head.json`` in its private folder (the head
outside the database). ``verify`` recomputes the chain and checks every checkpoint's signature and
that the newest checkpoint and the head file name the last row: an edited, deleted, inserted or
forged row, a truncated tail, an emptied table and a wholesale recomputation (which cannot be
re-signed without the key) are all reported. Only the service writes here; domains have no access.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from meshwork.core import audit, settings
from meshwork.service.state import AuditHead, AuditRow

GENESIS = audit.GENESIS
digest = audit.digest  # the chain and its checkpoints are core.audit's: one format for both logs
_append = threading.Lock()  # one appender per process; the database serialises processes


def _key_path() -> Path:
    return settings.service_dir() / "audit-signing.key"


@cache
def _signing_key(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def public_key() -> Ed25519PublicKey:
    return _signing_key(_key_path()).public_key()


def record(s: Session, action: str, **fields: Any) -> dict[str, Any]:
    """Append one entry and a signed checkpoint of the new head, in the caller's transaction.

    The append lock is held until that transaction commits or rolls back: the next appender must
    see this entry as the previous one (the database alone serialises processes, see with_for_update).
    """
    if not s.info.get("audit_lock"):
        _append.acquire()
        s.info["audit_lock"] = True
    last = s.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1).with_for_update()).first()
    seq = (last.seq + 1) if last else 1
    entry = {
        "at": datetime.now(UTC).isoformat(),
        "action": action,
        **fields,
        "seq": seq,
        "prev": last.entry["hash"] if last else GENESIS,
    }
    entry["hash"] = digest(entry)
    s.add(AuditRow(seq=seq, entry=entry))
    checkpoint = json.loads(audit.sign(_signing_key(_key_path()), seq, entry["hash"], entry["at"]).to_json())
    s.add(AuditHead(seq=seq, checkpoint=checkpoint))
    s.flush()
    s.info["audit_head"] = checkpoint  # written to the head file once the transaction commits
    return entry


def _release(s: Session) -> None:
    if s.info.pop("audit_lock", False):
        _append.release()


@event.listens_for(Session, "after_commit")
def _after_commit(s: Session) -> None:
    if (checkpoint := s.info.pop("audit_head", None)) is not None:
        _write_head(checkpoint)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(s: Session, transaction) -> None:
    # Committed, rolled back or abandoned by close(): the outermost transaction's end frees the lock.
    if transaction.parent is None:
        s.info.pop("audit_head", None)
        _release(s)


def _write_head(checkpoint: dict[str, Any]) -> None:
    path = settings.service_dir() / "audit.head.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(checkpoint), encoding="utf-8")
    os.replace(tmp, path)


def _checkpoint(raw: dict[str, Any] | None) -> audit.Checkpoint | None:
    return audit.Checkpoint.parse(json.dumps(raw)) if raw is not None else None


def verify(s: Session) -> list[str]:
    """Every problem with the log (core.audit's verification over the table, its checkpoints and the
    head file); empty when it is intact up to the signed head."""
    entries = [r.entry for r in s.scalars(select(AuditRow).order_by(AuditRow.seq)).all()]
    checkpoints = [
        cp
        for c in s.scalars(select(AuditHead).order_by(AuditHead.seq)).all()
        if (cp := _checkpoint(c.checkpoint)) is not None
    ]
    head_file = settings.service_dir() / "audit.head.json"
    head = audit.Checkpoint.parse(head_file.read_text(encoding="utf-8")) if head_file.exists() else None
    return audit.verify_entries(entries, checkpoints, head, public_key())


def query(s: Session, action: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    stmt = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
    rows = [r.entry for r in s.scalars(stmt).all()][::-1]
    return [r for r in rows if action is None or r["action"] == action or r["action"].startswith(f"{action}.")]


def count(s: Session) -> int:
    return int(s.scalar(select(func.count()).select_from(AuditRow)) or 0)
