"""A run publishes its domain's products together: the last contract gate of the run commits them all.

Each gate stages its product's snapshots (written, not yet ``latest``) and names them in its check
result (:data:`STAGED`). What the run will publish is read from the run's own event log through
Dagster's public API: the contract checks it planned (``ASSET_CHECK_EVALUATION_PLANNED``), the ones
already evaluated and what they staged. When the last planned gate has passed, it commits every staged
snapshot as one domain commit (:mod:`meshwork.ports.domain_publish`). When any gate fails, or any step of
the run failed, nothing of the run is published and its staged snapshots are deleted.

The gates of a run must run one after another for this (the domain's definitions use the in-process
executor, and the warehouse pool admits one step at a time). A run that selects one product (the UI's
Materialize on one asset) plans one gate, which publishes it alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dagster as dg

from meshwork.model.mesh import Mesh, Product
from meshwork.ports import domain_publish
from meshwork.runtime import specs
from meshwork.storage import snapshots
from meshwork.storage.domain_commit import Pointer

STAGED = "meshwork/staged"  # metadata of a passed contract check: the snapshots it staged, as JSON


@dataclass
class RunState:
    """What the run's event log says so far about the domain's contract gates."""

    planned: set[str] = field(default_factory=set)
    staged: dict[str, list[Pointer]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def _product_key(key: dg.AssetKey) -> str:
    return "/".join(key.path)


def run_state(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, domain: str) -> RunState:
    instance, run_id = context.instance, context.run.run_id
    state = RunState()
    planned = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)
    for record in planned.records:
        data = record.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
        if data.check_name == specs.CONTRACT_CHECK and data.asset_key.path[0] == domain:
            state.planned.add(_product_key(data.asset_key))
    evaluated = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    for record in evaluated.records:
        data = record.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
        key = _product_key(data.asset_key)
        if data.check_name != specs.CONTRACT_CHECK or key not in state.planned:
            continue
        if not data.passed:
            state.failed.append(f"{key}: contract")
        elif STAGED in data.metadata:
            state.staged[key] = [Pointer.model_validate(p) for p in json.loads(str(data.metadata[STAGED].value))]
    failures = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    state.failed += [f"step {r.event_log_entry.step_key} failed" for r in failures.records]
    return state


def staged_in_run(context: dg.AssetExecutionContext, domain: str) -> dict[tuple[str, int], str]:
    """The snapshots this run has staged so far, for a product that reads a port of its own domain."""
    staged = run_state(context, domain).staged
    return {(key, p.major): p.snapshot_id for key, pointers in staged.items() for p in pointers}


def abandon(context: dg.AssetCheckExecutionContext, product: Product) -> None:
    """This gate failed: delete what the run's earlier gates staged; none of it will be published."""
    for key, staged in run_state(context, product.domain).staged.items():
        domain_publish.discard(product.domain, staged)
        context.log.info(f"{key}: staged snapshot(s) deleted, not published: {product.key} failed in this run")


def finish(
    context: dg.AssetCheckExecutionContext, mesh: Mesh, product: Product, manifests: list[snapshots.Manifest]
) -> dict[str, str]:
    """After this product passed its gate: publish the run's set if it is complete. The check's metadata."""
    mine = domain_publish.pointers(manifests)
    state = run_state(context, product.domain)
    if state.failed:
        domain_publish.discard(product.domain, mine)
        held = f"nothing: the run's other products must publish with it, and {'; '.join(state.failed)}"
        context.log.warning(f"{product.key} passed its contract but was not published: {'; '.join(state.failed)}")
        return {"published": held}
    state.staged[product.key] = mine
    staged_json = json.dumps([p.model_dump() for p in mine])
    if waiting := sorted(state.planned - state.staged.keys()):
        context.log.info(f"{product.key} staged; it publishes when {', '.join(waiting)} pass(es) in this run")
        return {"published": f"staged, waiting for {', '.join(waiting)}", STAGED: staged_json}
    every = [p for key in sorted(state.staged) for p in state.staged[key]]
    domain_publish.commit(product.domain, context.run.run_id, every)
    told = ", ".join(f"{product.domain}/{p.product}@v{p.major}/{p.snapshot_id}" for p in every)
    context.log.info(f"published together: {told}")
    return {"published": told, STAGED: staged_json}
