"""Retention: published snapshots older than a product's declared retention period are purged.

Each domain's code location carries a daily job that purges its own ports (``<domain>_retention``);
`mesh retention purge` does the same for the whole mesh. The snapshot ``latest`` points at is
never purged, so a port always stays readable. Every purge is written to the audit log.
"""

import re
import shutil
from datetime import UTC, datetime, timedelta

import dagster as dg

from meshwork import audit, ports
from meshwork.mesh import Domain, Mesh, Product

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
        root = ports.version_dir(product.domain, product.name, port.major)
        latest = ports.latest_snapshot(product.domain, product.name, port.major)
        for snapshot in ports.snapshots(root):
            if snapshot == latest:
                continue
            created = ports.read_manifest(product.domain, product.name, port.major, snapshot).created_at
            if now - created > keep_for:
                shutil.rmtree(root / snapshot)
                removed.append(f"{port.ref}/{snapshot}")
    if removed:
        audit.record("retention.purge", product=product.key, snapshots=removed, retention=product.descriptor.retention)
    return removed


def purge(mesh: Mesh, domains: list[str] | None = None, now: datetime | None = None) -> dict[str, list[str]]:
    return {
        p.key: removed
        for d in (domains or list(mesh.domains))
        for p in mesh.domains[d].products
        if (removed := purge_product(p, now))
    }


def retention_schedule(mesh: Mesh, domain: Domain) -> dg.ScheduleDefinition | None:
    if not any(period(p) for p in domain.products):
        return None

    @dg.op(name=f"{domain.name}_purge_expired_snapshots")
    def purge_op(context: dg.OpExecutionContext) -> None:
        removed = purge(mesh, [domain.name])
        context.log.info(f"purged {sum(len(v) for v in removed.values())} snapshot(s): {removed}")

    @dg.job(name=f"{domain.name}_retention", description="Purges snapshots older than the declared retention.")
    def retention_job() -> None:
        purge_op()

    return dg.ScheduleDefinition(
        job=retention_job, cron_schedule="0 3 * * *", default_status=dg.DefaultScheduleStatus.RUNNING
    )
