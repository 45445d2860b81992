"""A domain's publish as one commit: the ports a run built switch their ``latest`` together or not at all.

Each product's gate writes its snapshot complete and checksummed but leaves ``latest`` alone (a staged
snapshot). Once every product the run planned has passed, the run writes one commit record
``<domain>/_commits/<id>.json`` naming each port version and its new snapshot, switches the pointers one
by one, then deletes the record. Writing the record is the commit point: a process that dies between
two switches leaves it behind, and the next build of the domain or the next local read of one of its
ports rolls it forward (every snapshot it names was complete before it was written). A pointer never
moves back to an older snapshot (ids begin with their UTC time), so a record that a later commit
overtook changes nothing when it is applied late.

This module only keeps records; how a pointer is read and switched (a ``latest`` write, or a call to
the control plane in the enforced mode) is passed in by :mod:`meshwork.ports.domain_publish`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError

from meshwork.core.names import check_identifier
from meshwork.storage import stores
from meshwork.storage.port_store import Damaged

COMMITS = "_commits"  # not a product name: those start with a letter


class Pointer(BaseModel):
    product: str
    major: int
    snapshot_id: str


class Record(BaseModel):
    domain: str
    run_id: str | None
    created_at: datetime
    pointers: list[Pointer]


# (domain, pointer) -> the snapshot id the port's `latest` names now, or None
Current = Callable[[str, Pointer], str | None]
# (domain, pointer, run_id) -> make the pointer's snapshot the port's `latest`
Switch = Callable[[str, Pointer, str | None], None]


def _folder(domain: str) -> str:
    return f"{check_identifier(domain)}/{COMMITS}"


def pending(domain: str) -> list[tuple[str, Record]]:
    """Commit records left by a commit that did not finish, oldest first (with their store keys)."""
    store = stores.current()
    found = []
    for name in sorted(store.children(_folder(domain))):
        if not name.endswith(".json"):
            continue
        key = f"{_folder(domain)}/{name}"
        text = store.read_text(key)
        if text is None:  # applied and deleted by another process since the listing
            continue
        try:
            found.append((key, Record.model_validate_json(text)))
        except ValidationError as exc:
            raise Damaged(f"{store.where(key)} is not a commit record ({exc.errors()[0]['msg']})") from None
    return found


def apply(record: Record, current: Current, switch: Switch) -> list[Pointer]:
    """Switch every pointer of ``record`` that is behind it; the pointers switched."""
    moved = []
    for pointer in record.pointers:
        now = current(record.domain, pointer)
        if now is None or now < pointer.snapshot_id:
            switch(record.domain, pointer, record.run_id)
            moved.append(pointer)
    return moved


def settle(domain: str, current: Current, switch: Switch) -> list[Record]:
    """Roll forward every commit of ``domain`` that a dead process left half done; the records settled."""
    store = stores.current()
    settled = []
    for key, record in pending(domain):
        apply(record, current, switch)
        store.delete(key)
        settled.append(record)
    return settled


def commit(domain: str, run_id: str | None, pointers: list[Pointer], current: Current, switch: Switch) -> Record:
    """Make ``pointers`` (staged snapshots of ``domain``) the ``latest`` of their ports, as one commit."""
    settle(domain, current, switch)  # an older interrupted commit first, so it cannot land after this one
    created = datetime.now(UTC)
    record = Record(domain=domain, run_id=run_id, created_at=created, pointers=pointers)
    key = f"{_folder(domain)}/{created.strftime('%Y%m%dT%H%M%S%fZ')}-{(run_id or 'run')[:8]}.json"
    store = stores.current()
    store.write_text(key, record.model_dump_json(indent=2))
    apply(record, current, switch)
    store.delete(key)
    return record
