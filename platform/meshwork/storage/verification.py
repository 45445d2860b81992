"""The check behind ``mesh ports verify``: every retained snapshot of a port version against its manifest,
and the ``latest`` pointer against the snapshots.

Nothing found is raised: a missing or malformed ``latest``, a manifest that is not one or sits in the
wrong folder, a missing or altered file (masked variant included) each become one line naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshwork.storage import snapshots, stores
from meshwork.storage.port_store import Damaged


@dataclass
class VersionCheck:
    snapshots: list[str] = field(default_factory=list)  # the ids checked, oldest first
    problems: list[str] = field(default_factory=list)


def check_version(domain: str, product: str, major: int) -> VersionCheck | None:
    """Every retained snapshot of a port version and its ``latest``; None when nothing was ever published."""
    store = stores.current()
    version = snapshots.version_key(domain, product, major)
    pointer = store.where(f"{version}/{snapshots.LATEST}")
    check = VersionCheck()
    try:
        # `latest` before the listing: a publish in between adds a snapshot, it cannot hide the one named.
        latest, latest_problem = snapshots.latest_snapshot(domain, product, major), None
    except Damaged as exc:
        latest, latest_problem = None, str(exc)
    ids = store.snapshot_ids(version)
    if latest_problem:
        check.problems.append(latest_problem)
    elif latest is None and ids:
        check.problems.append(
            f"{pointer} is missing: {len(ids)} snapshot(s) are stored (newest {ids[-1]}) but none is served"
        )
    elif latest is None:
        return None
    elif latest not in ids:
        check.problems.append(f"{pointer} names {latest}, which has no manifest")
    for snapshot_id in ids:
        try:
            manifest = snapshots.read_manifest(domain, product, major, snapshot_id)
        except FileNotFoundError:  # deleted by retention since the listing: no longer a snapshot
            continue
        except Damaged as exc:
            check.snapshots.append(snapshot_id)
            check.problems.append(str(exc))
            continue
        check.snapshots.append(snapshot_id)
        where = f"{version}/{snapshot_id}"
        described = f"{manifest.domain}/{manifest.product}/{manifest.version}/{manifest.snapshot_id}"
        if described != where:  # its files would be looked for in another snapshot
            check.problems.append(
                f"{store.where(f'{where}/{snapshots.MANIFEST}')} describes {described}, not this snapshot"
            )
            continue
        check.problems += snapshots.verify(manifest)
    return check
