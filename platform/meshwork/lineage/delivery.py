"""Deliver OpenLineage events without ever blocking or failing a run.

The transport is whatever the standard OpenLineage configuration says (``openlineage.yml``,
``OPENLINEAGE_CONFIG``, ``OPENLINEAGE_URL``, ``OPENLINEAGE__*``: the client reads them); with none,
events are appended to ``$MESH_HOME/lineage/events.jsonl``. Each emission runs in a daemon thread
joined for at most ``MESH_LINEAGE_TIMEOUT`` seconds, because the HTTP transport retries and blocks
while a backend is down or slow. An event not accepted in time, or refused, goes to the outbox
``$MESH_HOME/lineage/outbox.jsonl`` with the reason; ``replay`` sends those later. After a failure
the rest of the process's events skip the backend for a while, so a run pays the timeout once,
not once per event. Delivery is at least once: an event a slow backend accepts after its timeout
is removed from the outbox again if the process is still alive then, otherwise replay sends it twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde
from openlineage.client.transport.console import ConsoleTransport
from openlineage.client.transport.file import FileConfig, FileTransport

from meshwork.core import settings

log = logging.getLogger("meshwork.lineage.events")

# Seconds during which a process sends straight to the outbox after its backend failed once.
BACKOFF_SECONDS = 60.0


@dataclass
class Delivery:
    delivered: bool
    queued: bool = False
    reason: str | None = None


@dataclass
class Replay:
    delivered: int = 0
    remaining: int = 0
    errors: list[str] = field(default_factory=list)


def to_dict(obj: Any) -> Any:
    """The JSON form of an event, as ``Serde.to_dict`` gives it (no nulls, enums as values), ~4x faster.

    Serde goes through ``attr.asdict`` and a second recursive pass; this walks the attrs fields once.
    """
    if isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [d for v in obj if v is not None and (d := to_dict(v)) != {}]
    fields = getattr(type(obj), "__attrs_attrs__", None)
    if fields is None:
        return Serde.remove_nulls_and_enums(obj)
    return {f.name: to_dict(v) for f in fields if (v := getattr(obj, f.name)) is not None}


class LockedFileTransport(FileTransport):
    """The OpenLineage file transport in append mode, one locked write per event.

    Domains build in parallel processes; the plain transport's buffered writes of a long line could
    interleave there.
    """

    def emit(self, event: Any) -> None:
        line = json.dumps(to_dict(event), sort_keys=True) + "\n"
        path = Path(self.config.log_file_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(line)


_clients: dict[tuple, OpenLineageClient] = {}
_clients_lock = threading.Lock()
_backoff: dict[str, Any] = {"until": 0.0, "reason": ""}


def _client_key() -> tuple:
    configured = settings.openlineage_configured()
    return (
        configured,
        tuple(sorted(settings.openlineage_environment().items())),
        str(settings.openlineage_config_file()),
        None if configured else str(settings.lineage_events_file()),
    )


def client() -> OpenLineageClient:
    """The OpenLineage client for the current configuration (built once per configuration)."""
    key = _client_key()
    with _clients_lock:
        if key not in _clients:
            configured = OpenLineageClient() if settings.openlineage_configured() else None
            # The client falls back to printing on the console when what looked like configuration
            # is not (e.g. the OPENLINEAGE__TRANSPORT__* aliases it writes into the environment itself).
            if configured is not None and not (
                isinstance(configured.transport, ConsoleTransport)
                and (configured.config.transport or {}).get("type") != "console"
            ):
                _clients[key] = configured
            else:
                path = settings.lineage_events_file()
                _clients[key] = OpenLineageClient(
                    transport=LockedFileTransport(FileConfig(log_file_path=str(path), append=True))
                )
        return _clients[key]


def reset() -> None:
    """Forget clients and the backoff (tests, and replay: the backend may be back)."""
    with _clients_lock:
        _clients.clear()
    _backoff.update(until=0.0, reason="")


@contextlib.contextmanager
def _outbox_lock() -> Iterator[None]:
    # A separate lock file: replay replaces the outbox file, and appenders must lock the new one.
    path = settings.lineage_outbox()
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _append(record: dict[str, Any]) -> None:
    path = settings.lineage_outbox()
    with _outbox_lock(), path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _rewrite(records: list[dict[str, Any]]) -> None:
    """Replace the outbox atomically (call with the outbox lock held)."""
    path = settings.lineage_outbox()
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _lines() -> list[dict[str, Any]]:
    path = settings.lineage_outbox()
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read() -> list[dict[str, Any]]:
    """Queued events, minus those a tombstone line marks as delivered late."""
    lines = _lines()
    gone = {r["id"] for r in lines if r.get("delivered_late")}
    return [r for r in lines if "event" in r and r["id"] not in gone]


def outbox() -> list[dict[str, Any]]:
    """Undelivered events with why and when they were queued."""
    return _read()


def _discard(record_id: str) -> None:
    # A tombstone, not a rewrite: appenders never wait for a copy of a long outbox.
    _append({"id": record_id, "delivered_late": True, "at": datetime.now(UTC).isoformat()})


def _queue(event: RunEvent | dict[str, Any], reason: str, record_id: str | None = None) -> None:
    payload = event if isinstance(event, dict) else to_dict(event)
    _append(
        {
            "id": record_id or uuid.uuid4().hex,
            "queued_at": datetime.now(UTC).isoformat(),
            "reason": reason,
            "event": payload,
        }
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def emit(event: RunEvent, logger: Any = None) -> Delivery:
    """Send one event within the timeout; never raises. What is not delivered is in the outbox."""
    logger = logger or log
    try:
        return _emit(event, logger)
    except Exception as exc:  # the outbox itself failed (disk full…): lineage still must not fail the run
        logger.warning(f"OpenLineage: event lost, the outbox could not be written: {_describe(exc)}")
        return Delivery(delivered=False, reason=_describe(exc))


def _emit(event: RunEvent, logger: Any) -> Delivery:
    try:
        default = client()
    except Exception as exc:  # a broken OpenLineage configuration
        reason = _describe(exc)
        _queue(event, reason)
        logger.warning(f"OpenLineage: no client ({reason}); event kept in {settings.lineage_outbox()}")
        return Delivery(delivered=False, queued=True, reason=reason)
    if isinstance(default.transport, LockedFileTransport):
        # The default local file needs no thread: an append does not wait on a backend.
        try:
            default.transport.emit(event)
            return Delivery(delivered=True)
        except Exception as exc:
            reason = _describe(exc)
            _queue(event, reason)
            logger.warning(f"OpenLineage: event not written ({reason}); kept in {settings.lineage_outbox()}")
            return Delivery(delivered=False, queued=True, reason=reason)
    if time.monotonic() < _backoff["until"]:
        reason = f"backend skipped after an earlier failure in this process ({_backoff['reason']})"
        _queue(event, reason)
        return Delivery(delivered=False, queued=True, reason=reason)
    record_id = uuid.uuid4().hex
    state: dict[str, Any] = {"done": False, "abandoned": False, "error": None}
    guard = threading.Lock()

    def send() -> None:
        error = None
        try:
            client().emit(event)
        except Exception as exc:
            error = exc
        with guard:
            state.update(done=True, error=error)
            late_success = state["abandoned"] and error is None
        if late_success:  # the backend took it after all: the outbox copy would be a duplicate
            with contextlib.suppress(Exception):
                _discard(record_id)

    timeout = settings.lineage_timeout()
    thread = threading.Thread(target=send, name="openlineage-emit", daemon=True)
    thread.start()
    thread.join(timeout)
    with guard:
        if state["done"] and state["error"] is None:
            return Delivery(delivered=True)
        if state["done"]:
            reason = _describe(state["error"])
        else:
            reason = f"no answer within {timeout:g}s (MESH_LINEAGE_TIMEOUT)"
            state["abandoned"] = True
        # Queued under the guard, so that a late success finds the record to discard.
        _queue(event, reason, record_id)
    _backoff.update(until=time.monotonic() + BACKOFF_SECONDS, reason=reason)
    logger.warning(f"OpenLineage: event not delivered ({reason}); kept in {settings.lineage_outbox()}")
    return Delivery(delivered=False, queued=True, reason=reason)


def _send_now(payload: dict[str, Any], timeout: float) -> str | None:
    """Send a stored event through the configured transport; the reason it failed, or None."""
    result: dict[str, Any] = {}

    def send() -> None:
        try:
            # Stored events are plain dicts; every transport serializes what it gets with Serde.
            client().transport.emit(payload)  # type: ignore[arg-type]
            result["ok"] = True
        except Exception as exc:
            result["error"] = _describe(exc)

    thread = threading.Thread(target=send, name="openlineage-replay", daemon=True)
    thread.start()
    thread.join(timeout)
    if result.get("ok"):
        return None
    return result.get("error") or f"no answer within {timeout:g}s (MESH_LINEAGE_TIMEOUT)"


def replay() -> Replay:
    """Re-send the outbox in order; delivered events are removed, the rest stay (stop at the first failure).

    The outbox is locked only to read it and to remove what was delivered, never while sending:
    a run queuing an event meanwhile is not held up by a replay.
    """
    reset()
    timeout = settings.lineage_timeout()
    outcome = Replay()
    with _outbox_lock():
        pending = _read()
    delivered: set[str] = set()
    failed: dict[str, str] = {}
    for record in pending:
        error = _send_now(record["event"], timeout)
        if error is not None:  # the backend is still down: keep this one and all after it, in order
            failed[record["id"]] = error
            outcome.errors.append(error)
            break
        delivered.add(record["id"])
    outcome.delivered = len(delivered)
    with _outbox_lock():
        current = _read()  # compacts: tombstones and what they cancel are dropped
        kept = [
            {**r, "reason": failed[r["id"]], "last_attempt": datetime.now(UTC).isoformat()} if r["id"] in failed else r
            for r in current
            if r.get("id") not in delivered
        ]
        if kept != _lines():
            _rewrite(kept)
        outcome.remaining = len(kept)
    return outcome
