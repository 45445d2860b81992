"""Schedules for source-aligned products (downstream products use automation conditions, see specs)."""

from __future__ import annotations

from collections import defaultdict

import dagster as dg

from meshwork.model.descriptors import ProductKind
from meshwork.model.mesh import Domain
from meshwork.runtime.domain_runs import run_tags
from meshwork.runtime.specs import asset_key


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
