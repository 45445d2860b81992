"""Every output port of the mesh with its latest snapshot (`mesh ports list`, `mesh build`'s summary),
and the check of those snapshots' files against their manifests (`mesh ports verify`)."""

from __future__ import annotations

from typing import Any

from meshwork.model.mesh import Mesh
from meshwork.storage import snapshots


def port_summary(mesh: Mesh) -> list[dict[str, Any]]:
    """One row per port version: its latest snapshot, row count and publish time (None when unpublished)."""
    rows = []
    for product in mesh.products.values():
        for port in product.ports:
            snapshot = snapshots.latest_snapshot(product.domain, product.name, port.major)
            manifest = snapshots.read_manifest(product.domain, product.name, port.major, snapshot) if snapshot else None
            rows.append(
                {
                    "domain": product.domain,
                    "product": product.name,
                    "port": port.ref,
                    "snapshot": snapshot,
                    "rows": manifest.row_count if manifest else None,
                    "published_at": manifest.created_at.isoformat() if manifest else None,
                }
            )
    return rows


def verify_ports(mesh: Mesh) -> dict[str, list[str]]:
    """Port ref -> the problems of its latest snapshot's files (empty: intact); unpublished ports are absent.

    Checks the files against the manifest's checksums, in whichever store holds them (local or object).
    """
    report: dict[str, list[str]] = {}
    for product in mesh.products.values():
        for port in product.ports:
            snap = snapshots.latest_snapshot(product.domain, product.name, port.major)
            if snap:
                try:
                    manifest = snapshots.read_manifest(product.domain, product.name, port.major, snap)
                except FileNotFoundError as exc:  # `latest` names a snapshot whose manifest is gone
                    report[port.ref] = [str(exc)]
                    continue
                report[port.ref] = snapshots.verify(manifest)
    return report
