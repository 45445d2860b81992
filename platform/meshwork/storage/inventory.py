"""Every output port of the mesh with its latest snapshot (`mesh ports list`, `mesh build`'s summary),
and the check of those snapshots' files against their manifests (`mesh ports verify`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from meshwork.model.mesh import Mesh
from meshwork.storage import snapshots
from meshwork.storage.verification import VersionCheck, check_version


def _row(domain: str, name: str, major: int, broken: bool) -> dict[str, Any]:
    snapshot = snapshots.latest_snapshot(domain, name, major)
    manifest = snapshots.read_manifest(domain, name, major, snapshot) if snapshot else None
    return {
        "domain": domain,
        "product": name,
        "port": f"{domain}/{name}@v{major}",
        "snapshot": snapshot,
        "rows": manifest.row_count if manifest else None,
        "published_at": manifest.created_at.isoformat() if manifest else None,
        "broken": broken,
    }


def port_summary(mesh: Mesh, unloaded: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One row per port version: its latest snapshot, row count and publish time (None when unpublished).

    ``unloaded``: keys of products whose definition does not load; their published versions are listed
    from the store, with ``broken`` true (so are the ports of every domain in ``mesh.broken``).
    """
    rows = [
        _row(product.domain, product.name, port.major, product.domain in mesh.broken)
        for product in mesh.products.values()
        for port in product.ports
    ]
    for key in unloaded:
        domain, _, name = key.partition("/")
        with contextlib.suppress(Exception):  # a store that cannot be listed: `mesh ports verify` says so
            rows += [_row(domain, name, major, True) for major in sorted(snapshots.published_majors(domain, name))]
    return rows


def verify_ports(mesh: Mesh, unloaded: Iterable[str] = ()) -> dict[str, VersionCheck]:
    """Port ref -> the snapshots checked and the problems found (none: intact); never-published versions
    are absent. Every retained snapshot is checked against its manifest's checksums, in whichever store
    holds it, and ``latest`` must name one of them: see :mod:`meshwork.storage.verification`.
    ``unloaded``: keys of products whose definition does not load, checked from what the store holds."""
    report: dict[str, VersionCheck] = {}
    wanted = [(p.key, {port.major for port in p.ports}) for p in mesh.products.values()]
    for key, declared in [*wanted, *((k, set()) for k in unloaded)]:
        domain, _, name = key.partition("/")
        majors = set(declared)
        try:
            majors |= set(snapshots.published_majors(domain, name))
        except Exception as exc:  # a store that cannot be read is a line of the report, not a traceback
            report[key] = VersionCheck(problems=[f"cannot list {key}: {type(exc).__name__}: {exc}"])
        for major in sorted(majors):
            ref = f"{key}@v{major}"
            try:
                check = check_version(domain, name, major)
            except Exception as exc:  # as above
                check = VersionCheck(problems=[f"cannot check {ref}: {type(exc).__name__}: {exc}"])
            if check is not None:
                report[ref] = check
    return report
