"""Retention: data older than a product's declared retention period is purged.

Two levels. Published snapshots older than ``retention`` are deleted (never the one ``latest``
points at, so a port always stays readable). With ``retentionColumn`` set, rows whose value in that
column is older than the period are also deleted from the landing files, the domain's warehouse
table and every retained snapshot (rewritten atomically, like an erasure), so no build brings them
back. Each domain's code location carries a daily job that purges its own products
(``<domain>_retention``, see :mod:`meshwork.runtime.automation`); `mesh retention purge` does the
same for the whole mesh. Every purge is written to the audit log.
"""

import re
from datetime import UTC, datetime, timedelta

from meshwork.core import audit, settings
from meshwork.core.names import quote
from meshwork.model.mesh import Mesh, Product
from meshwork.storage import landing, snapshots, stores, warehouse

_DAYS = re.compile(r"^(\d+)\s*d$")


def period(product: Product) -> timedelta | None:
    m = _DAYS.match(product.descriptor.retention or "")
    return timedelta(days=int(m.group(1))) if m else None


def purge_product(product: Product, now: datetime | None = None) -> list[str]:
    """Delete the product's snapshots older than its retention; return the removed port/snapshot refs."""
    keep_for = period(product)
    if keep_for is None:
        return []
    now = now or datetime.now(UTC)
    removed = []
    for port in product.ports:
        version = snapshots.version_key(product.domain, product.name, port.major)
        latest = snapshots.latest_snapshot(product.domain, product.name, port.major)
        for snapshot in snapshots.snapshot_ids(product.domain, product.name, port.major):
            if snapshot == latest:
                continue
            created = snapshots.read_manifest(product.domain, product.name, port.major, snapshot).created_at
            if now - created > keep_for:
                stores.current().delete_snapshot(version, snapshot)
                removed.append(f"{port.ref}/{snapshot}")
    if removed:
        audit.record("retention.purge", product=product.key, snapshots=removed, retention=product.descriptor.retention)
    return removed


def purge_rows(product: Product, now: datetime | None = None) -> dict[str, int]:
    """Delete rows older than the retention by ``retentionColumn``; return where and how many."""
    keep_for, column = period(product), product.descriptor.retention_column
    if keep_for is None or column is None:
        return {}
    # Naive UTC: TIMESTAMP columns hold UTC without a zone, and a DATE compares against midnight.
    cutoff = ((now or datetime.now(UTC)) - keep_for).astimezone(UTC).replace(tzinfo=None)
    expired = f"TRY_CAST({quote(column)} AS TIMESTAMP) < ?"
    removed: dict[str, int] = {}
    con = warehouse.memory_connection()
    for src in product.descriptor.sources:
        for file in landing.files(src):
            if n := landing.delete_rows(con, file, expired, [cutoff]):
                removed[str(file.relative_to(settings.mesh_home()))] = n
    table = product.descriptor.implementation.model or product.name
    # The product's table names a column the port renames (outputPorts[].columns) by the model's name.
    in_table = f"TRY_CAST({quote(product.current_port.spec.renamed.get(column, column))} AS TIMESTAMP) < ?"
    with warehouse.connect(product.domain) as wcon:
        exists = wcon.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_type = 'BASE TABLE'",
            [table],
        ).fetchall()[0][0]
        if exists and (n := wcon.execute(f"DELETE FROM {quote(table)} WHERE {in_table}", [cutoff]).fetchall()[0][0]):
            removed[f"{product.domain}/{table}"] = int(n)
    for port in product.ports:
        for snapshot in snapshots.snapshot_ids(product.domain, product.name, port.major):
            manifest = snapshots.read_manifest(product.domain, product.name, port.major, snapshot)
            if n := snapshots.delete_rows(con, manifest, expired, [cutoff]):
                removed[f"{port.ref}/{snapshot}"] = n
    if removed:
        audit.record(
            "retention.rows",
            product=product.key,
            column=column,
            cutoff=cutoff.isoformat(),
            rows=removed,
            retention=product.descriptor.retention,
        )
    return removed


def purge(mesh: Mesh, domains: list[str] | None = None, now: datetime | None = None) -> dict[str, list[str]]:
    """Purge snapshots, then expired rows, of every product in ``domains``; what was removed, by product."""
    out: dict[str, list[str]] = {}
    for d in domains or list(mesh.domains):
        for p in mesh.domains[d].products:
            removed = purge_product(p, now)
            removed += [f"{where}: {n} row(s)" for where, n in purge_rows(p, now).items()]
            if removed:
                out[p.key] = removed
    return out
