"""Schedules: ingestion of source-aligned products (downstream products use automation conditions, see
specs) and each domain's daily retention purge."""

from __future__ import annotations

from collections import defaultdict

import dagster as dg

from meshwork.governance import retention
from meshwork.model.descriptors import ProductKind
from meshwork.model.mesh import Domain, Mesh
from meshwork.runtime.domain_runs import run_tags
from meshwork.runtime.specs import asset_key
from meshwork.storage import warehouse


def schedules(domain: Domain) -> list[dg.ScheduleDefinition]:
    """One schedule per distinct cron among the domain's source-aligned products."""
    by_cron: dict[str, list[dg.AssetKey]] = defaultdict(list)
    for product in domain.products:
        if product.descriptor.product_kind == ProductKind.SOURCE_ALIGNED and product.descriptor.sla.schedule:
            by_cron[product.descriptor.sla.schedule].append(asset_key(product.key))
    result = []
    for i, (cron, keys) in enumerate(sorted(by_cron.items())):
        name = f"{domain.name}_ingest" + (f"_{i + 1}" if len(by_cron) > 1 else "")
        result.append(
            dg.ScheduleDefinition(
                name=name,
                target=dg.AssetSelection.assets(*keys),
                cron_schedule=cron,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                # Without an execution_fn, a schedule's tags are copied onto every run it starts.
                tags=run_tags(domain.name),
                description=f"Ingests {domain.name}'s source-aligned products on '{cron}'.",
            )
        )
    return result


def retention_schedule(mesh: Mesh, domain: Domain) -> dg.ScheduleDefinition | None:
    if not any(retention.period(p) for p in domain.products):
        return None

    # The purge rewrites warehouse tables: it queues behind the domain's builds for the single writer.
    @dg.op(name=f"{domain.name}_purge_expired_data", pool=warehouse.pool(domain.name))
    def purge_op(context) -> None:  # an OpExecutionContext (Dagster reads the annotation, so none here)
        removed = retention.purge(mesh, [domain.name])
        context.log.info(f"purged {sum(len(v) for v in removed.values())} item(s): {removed}")

    @dg.job(
        name=f"{domain.name}_retention",
        description="Purges snapshots and rows older than the declared retention.",
        tags=run_tags(domain.name),  # copied onto its runs; see meshwork.runtime.domain_runs
    )
    def retention_job() -> None:
        purge_op()

    return dg.ScheduleDefinition(
        job=retention_job, cron_schedule="0 3 * * *", default_status=dg.DefaultScheduleStatus.RUNNING
    )
