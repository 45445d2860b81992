"""Where a product's steps emit OpenLineage events, from inside our own asset and check functions.

The product's asset step emits START (and FAIL if it raises); the blocking ``contract`` gate, which
validates and publishes, emits COMPLETE with the published snapshots, or FAIL when the contract
breaks. Both steps derive the same OpenLineage run id from the Dagster run id and the product. The
input snapshots a build read travel from the asset step to the gate in the materialization's
metadata (``meshwork/inputs``). Nothing here may fail or hold up a run: every hook catches and logs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec

import dagster as dg

from meshwork.lineage import delivery, events, quality_events
from meshwork.lineage.column_lineage import dbt_column_lineage
from meshwork.model.mesh import Mesh, Product
from meshwork.ports.reader import ResolvedPort
from meshwork.quality.validator import QualityReport
from meshwork.runtime import parent_lineage, specs
from meshwork.runtime.orphan_runs import BUILD_TAG

INPUTS_METADATA = "meshwork/inputs"
log = logging.getLogger("meshwork.lineage.events")
P = ParamSpec("P")

Context = dg.AssetExecutionContext | dg.AssetCheckExecutionContext


def _never_raises(fn: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # a bug in lineage must not cost anyone their data
            log.exception("OpenLineage: could not build or send the event of %s", fn.__name__)

    return wrapper


def _info(context: Context, product: Product) -> events.RunInfo:
    return events.RunInfo(
        dagster_run_id=context.run.run_id,
        job_name=context.run.job_name,
        engine=product.descriptor.implementation.engine,
    )


def reads_metadata(reads: Iterable[ResolvedPort]) -> dict[str, Any]:
    return {INPUTS_METADATA: dg.MetadataValue.json([{"port": r.ref, "snapshot": r.snapshot_id} for r in reads])}


def _port_reads(reads: Iterable[ResolvedPort]) -> list[events.PortRead]:
    return [events.PortRead(r.ref, r.snapshot_id) for r in reads]


def recorded_reads(context: Context, product: Product) -> list[events.PortRead]:
    """The snapshots the latest build of ``product`` read, from its materialization's metadata."""
    record = context.instance.get_latest_materialization_event(specs.asset_key(product.key))
    materialization = record.asset_materialization if record else None
    value = materialization.metadata.get(INPUTS_METADATA) if materialization else None
    data = value.value if isinstance(value, dg.JsonMetadataValue) else None
    if not isinstance(data, list):
        return []
    return [events.PortRead(d["port"], d.get("snapshot")) for d in data if isinstance(d, dict) and "port" in d]


@_never_raises
def started(context: Context, mesh: Mesh, product: Product) -> None:
    run = context.run
    parent_lineage.run_started(run.run_id, product.domain, run.job_name, run.tags.get(BUILD_TAG))
    delivery.emit(events.start_event(mesh, product, _info(context, product)), context.log)


@_never_raises
def failed(
    context: Context,
    mesh: Mesh,
    product: Product,
    error: BaseException | str,
    reads: Iterable[ResolvedPort] = (),
    reports: list[QualityReport] | None = None,
) -> None:
    info = _info(context, product)
    delivery.emit(events.fail_event(mesh, product, info, error, _port_reads(reads)), context.log)
    if reports:
        delivery.emit(quality_events.contract_event(mesh, product, info, reports), context.log)


@_never_raises
def gate_failed(
    context: Context, mesh: Mesh, product: Product, error: BaseException | str, reports: list[QualityReport]
) -> None:
    reads, info = recorded_reads(context, product), _info(context, product)
    delivery.emit(events.fail_event(mesh, product, info, error, reads), context.log)
    if reports:
        delivery.emit(quality_events.contract_event(mesh, product, info, reports), context.log)


@_never_raises
def published(
    context: Context,
    mesh: Mesh,
    product: Product,
    manifests: list,
    reports: list[QualityReport],
    gate_reads: Iterable[ResolvedPort] = (),
) -> None:
    reads = [*recorded_reads(context, product), *_port_reads(gate_reads)]
    lineage = dbt_column_lineage(mesh, product)
    info = _info(context, product)
    delivery.emit(quality_events.contract_event(mesh, product, info, reports, manifests), context.log)
    event = events.complete_event(
        mesh, product, info, reads, manifests, columns=lineage.columns, sql=lineage.sql, rows=lineage.dataset
    )
    delivery.emit(event, context.log)
