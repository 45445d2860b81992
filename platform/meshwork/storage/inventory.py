"""Every output port of the mesh with its latest snapshot (`mesh ports list`, `mesh build`'s summary),
and the check of those snapshots' files against their manifests (`mesh ports verify`)."""

from __future__ import annotations

from typing import Any

from meshwork.model.mesh import Mesh
from meshwork.storage import snapshots
from meshwork.storage.verification import VersionCheck, check_version


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


def verify_ports(mesh: Mesh) -> dict[str, VersionCheck]:
    """Port ref -> the snapshots checked and the problems found (none: intact); never-published versions
    are absent. Every retained snapshot is checked against its manifest's checksums, in whichever store
    holds it, and ``latest`` must name one of them: see :mod:`meshwork.storage.verification`."""
    report: dict[str, VersionCheck] = {}
    for product in mesh.products.values():
        majors = {port.major for port in product.ports}
        try:
            majors |= set(snapshots.published_majors(product.domain, product.name))
        except Exception as exc:  # a store that cannot be read is a line of the report, not a traceback
            report[product.key] = VersionCheck(problems=[f"cannot list {product.key}: {type(exc).__name__}: {exc}"])
        for major in sorted(majors):
            ref = f"{product.key}@v{major}"
            try:
                check = check_version(product.domain, product.name, major)
            except Exception as exc:  # as above
                check = VersionCheck(problems=[f"cannot check {ref}: {type(exc).__name__}: {exc}"])
            if check is not None:
                report[ref] = check
    return report
