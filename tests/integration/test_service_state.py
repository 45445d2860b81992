"""The control plane's state on both databases it supports (SQLite, and the PostgreSQL CI starts):
identities issue/rotate/revoke, and an audit table whose every kind of tampering is detected."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select

from meshwork.core import audit
from meshwork.service import audit_table, identities, state
from tests import postgres


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    if url := os.environ.get(postgres.URL_VAR):
        yield url
        return
    with postgres.private_cluster() as cluster:
        yield cluster.url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MESH_SERVICE_HOME", str(tmp_path / "service"))
    if request.param == "sqlite":
        monkeypatch.delenv("MESH_SERVICE_DB", raising=False)
        yield "sqlite"
        return
    with postgres.database(request.getfixturevalue("postgres_server")) as url:
        monkeypatch.setenv("MESH_SERVICE_DB", url)
        yield url
        state.engine().dispose()


def test_a_token_works_until_it_is_rotated_or_revoked(db):
    with state.session() as s:
        first = identities.issue(s, "person", "alice", ["crm-data"])
        s.commit()
        assert identities.authenticate(s, first.token).name == "alice"
        with pytest.raises(identities.IdentityError, match="already has an active identity"):
            identities.issue(s, "person", "alice")
        second = identities.rotate(s, "person", "alice")
        s.commit()
        assert identities.authenticate(s, first.token) is None
        assert identities.authenticate(s, second.token).name == "alice"
        assert identities.authenticate(s, second.token[:-2] + "xx") is None
        identities.revoke(s, "person", "alice")
        s.commit()
        assert identities.authenticate(s, second.token) is None
        stored = s.scalars(select(state.Identity)).one()
        assert second.token.split(".")[1] not in json.dumps(identities.describe(stored)) + stored.secret_sha256


def _log(n: int = 5) -> None:
    with state.session() as s:
        for i in range(n):
            audit_table.record(s, "port.read", actor="sales", consumer="sales/orders", n=i)
            s.commit()


def _rows(s):
    return s.scalars(select(state.AuditRow).order_by(state.AuditRow.seq)).all()


def test_an_untouched_log_verifies(db):
    _log()
    with state.session() as s:
        assert audit_table.verify(s) == []
        assert audit_table.count(s) == 5


def _tamper_edit(s):
    row = _rows(s)[2]
    row.entry = {**row.entry, "consumer": "marketing/customer_360"}


def _tamper_edit_last(s):
    row = _rows(s)[-1]
    row.entry = {**row.entry, "n": 99}


def _tamper_truncate(s):
    s.execute(delete(state.AuditRow).where(state.AuditRow.seq >= 4))


def _tamper_truncate_with_checkpoints(s):
    s.execute(delete(state.AuditRow).where(state.AuditRow.seq >= 4))
    s.execute(delete(state.AuditHead).where(state.AuditHead.seq >= 4))


def _tamper_empty(s):
    s.execute(delete(state.AuditRow))
    s.execute(delete(state.AuditHead))


def _tamper_append(s):
    last = _rows(s)[-1].entry
    entry = {"at": last["at"], "action": "access.approve", "actor": "sales", "seq": 6, "prev": last["hash"]}
    entry["hash"] = audit_table.digest(entry)
    s.add(state.AuditRow(seq=6, entry=entry))


def _tamper_recompute(s):
    prev = audit_table.GENESIS
    for row in _rows(s):
        entry = {**row.entry, "actor": "finance", "prev": prev}
        entry["hash"] = audit_table.digest(entry)
        row.entry, prev = entry, entry["hash"]


def _tamper_resign(s):
    # Recompute the chain and sign fresh checkpoints with a key of one's own.
    _tamper_recompute(s)
    key = Ed25519PrivateKey.generate()
    for row in _rows(s):
        e = row.entry
        forged = json.loads(audit.sign(key, e["seq"], e["hash"], e["at"]).to_json())
        s.merge(state.AuditHead(seq=e["seq"], checkpoint=forged))


TAMPERING = {
    "edit a middle entry": (_tamper_edit, "entry 3"),
    "edit the last entry": (_tamper_edit_last, "entry 5"),
    "drop the tail": (_tamper_truncate, "its end was removed"),
    "drop the tail and its checkpoints": (_tamper_truncate_with_checkpoints, "its end was removed"),
    "empty the log": (_tamper_empty, "is empty"),
    "append a well-formed entry": (_tamper_append, "not covered by a signed checkpoint"),
    "recompute the whole chain": (_tamper_recompute, "recomputed"),
    "recompute and re-sign with another key": (_tamper_resign, "does not verify"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_every_kind_of_tampering_is_detected(db, how):
    _log()
    tamper, expected = TAMPERING[how]
    with state.session() as s:
        tamper(s)
        s.commit()
    with state.session() as s:
        problems = audit_table.verify(s)
    assert problems, f"{how}: not detected"
    assert any(expected in p for p in problems), problems


def test_a_deleted_head_file_is_reported(db):
    _log()
    (Path(os.environ["MESH_SERVICE_HOME"]) / "audit.head.json").unlink()
    with state.session() as s:
        assert any("there is no signed head" in p for p in audit_table.verify(s))


def test_the_signing_key_is_private_to_the_service(db):
    _log(1)
    key = Path(os.environ["MESH_SERVICE_HOME"]) / "audit-signing.key"
    assert key.stat().st_mode & 0o077 == 0
    assert serialization.load_pem_private_key(key.read_bytes(), None)


def test_an_abandoned_transaction_neither_keeps_its_entry_nor_blocks_the_next_appender(db):
    import threading

    with pytest.raises(RuntimeError), state.session() as s:
        audit_table.record(s, "port.read", actor="sales")
        raise RuntimeError("the request failed after auditing")
    done = threading.Event()

    def append() -> None:
        with state.session() as s:
            audit_table.record(s, "port.read", actor="sales")
            s.commit()
        done.set()

    threading.Thread(target=append, daemon=True).start()
    assert done.wait(30), "the append lock was left held by the abandoned transaction"
    with state.session() as s:
        assert audit_table.count(s) == 1 and audit_table.verify(s) == []


def test_concurrent_appenders_keep_one_unbroken_chain(db):
    from concurrent.futures import ThreadPoolExecutor

    def append(i: int) -> None:
        with state.session() as s:
            audit_table.record(s, "port.read", actor="sales", n=i)
            s.commit()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(append, range(40)))
    with state.session() as s:
        assert audit_table.count(s) == 40 and audit_table.verify(s) == []
