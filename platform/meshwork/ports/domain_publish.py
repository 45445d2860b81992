"""How a run's staged snapshots become its domain's published set, together or not at all.

The record keeping is :mod:`meshwork.storage.domain_commit`; this module supplies the two operations it
needs. In the local mode a pointer switch writes ``latest``; in the enforced mode only the control plane
may write ``latest``, so each switch is a ``POST /v1/publications`` (the service writes the masked
variant and the pointer). There the run still publishes nothing unless all its products passed, but the
posts of one commit are separate requests: a crash between two leaves a mixed set until the domain's next
build re-posts the rest (readers in the enforced mode ask the service and do not roll records forward).
"""

from __future__ import annotations

from meshwork.core import settings
from meshwork.ports import service_client
from meshwork.storage import domain_commit, snapshots, stores
from meshwork.storage.domain_commit import Pointer
from meshwork.storage.port_store import Damaged


def pointers(manifests: list[snapshots.Manifest]) -> list[Pointer]:
    return [Pointer(product=m.product, major=int(m.version[1:]), snapshot_id=m.snapshot_id) for m in manifests]


def _current(domain: str, pointer: Pointer) -> str | None:
    try:
        return snapshots.latest_snapshot(domain, pointer.product, pointer.major)
    except Damaged:  # a malformed pointer is behind any snapshot: the roll-forward repairs it
        return None


def _switch(domain: str, pointer: Pointer, run_id: str | None) -> None:
    if settings.service_url():
        service_client.commit(f"{domain}/{pointer.product}", pointer.major, pointer.snapshot_id, run_id)
        return
    snapshots.point_latest(snapshots.version_key(domain, pointer.product, pointer.major), pointer.snapshot_id)


def commit(domain: str, run_id: str | None, staged: list[Pointer]) -> domain_commit.Record:
    """Publish the staged snapshots of one run of ``domain`` as one commit; then apply retention."""
    record = domain_commit.commit(domain, run_id, staged, _current, _switch)
    for p in staged:
        snapshots.apply_retention(snapshots.version_key(domain, p.product, p.major), keep=settings.port_retention())
    return record


def settle(domain: str) -> list[domain_commit.Record]:
    """Roll forward a commit of ``domain`` that a dead process left half done (at the start of a gate)."""
    return domain_commit.settle(domain, _current, _switch)


def settle_for_read(domain: str) -> None:
    """Before a local read of ``domain``'s ports: finish its interrupted commit, so the reader sees a whole set.

    Only the local mode (one trusted user): in the enforced mode a reader may not write the producer's
    pointers, and the service reads ``latest`` as committed through it.
    """
    if not settings.service_url():
        settle(domain)


def discard(domain: str, staged: list[Pointer]) -> None:
    """Delete staged snapshots that will not be published (never one that ``latest`` names)."""
    for p in staged:
        if _current(domain, p) != p.snapshot_id:
            stores.current().delete_snapshot(snapshots.version_key(domain, p.product, p.major), p.snapshot_id)
