"""The mesh metrics as Dagster assets ``mesh/<name>`` (group ``mesh_metrics``) of the platform location.

One subsettable multi-asset: the facts are gathered once per run, then each selected metric is
measured (:mod:`meshwork.catalog.metrics`) and kept (:mod:`meshwork.catalog.metric_history`). Owned
by the platform team; each metric depends on every product it measures, so the asset graph draws
what it looks at. ``mesh build`` materializes them after its domains (job ``mesh_metrics``, a run of
the platform location), and the hourly schedule keeps them current between builds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from meshwork.catalog import metric_history, metrics
from meshwork.core.errors import MeshDefinitionError
from meshwork.model.loader import load_mesh
from meshwork.model.mesh import Mesh

GROUP = "mesh_metrics"
PREFIX = "mesh"
JOB = "mesh_metrics"
OWNERS = ["team:platform"]  # the platform team keeps the metrics, as the domains' teams keep their products


def _markdown(rows: list[dict[str, Any]], limit: int = 25) -> str:
    if not rows:
        return "_no rows_"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows[:limit]:
        lines.append("| " + " | ".join(str(r[h]).replace("|", "\\|") if r[h] is not None else "–" for h in head) + " |")
    if len(rows) > limit:
        lines.append(f"\n… {len(rows) - limit} more rows in the JSON file")
    return "\n".join(lines)


def _metadata(value: dict[str, Any], path: Path) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for k, v in value["summary"].items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            meta[k] = dg.MetadataValue.text(str(v) if v is not None else "n/a")
        else:
            meta[k] = v
    meta["rows"] = dg.MetadataValue.md(_markdown(value["rows"]))
    meta["dagster/row_count"] = len(value["rows"])
    meta["path"] = dg.MetadataValue.path(str(path))
    return meta


def measured_products(mesh: Mesh | None = None) -> list[dg.AssetKey]:
    """The asset keys of every product, the metrics' upstream; none when the mesh does not load (the
    domains' own locations report that, and the metrics' runs fail with the reason)."""
    try:
        mesh = mesh or load_mesh(check_grants=False, strict=False)
    except MeshDefinitionError:
        return []
    return [dg.AssetKey(key.split("/")) for key in sorted(mesh.products)]


def metric_assets(mesh: Mesh | None = None) -> list[dg.AssetsDefinition]:
    """The mesh metrics as one subsettable multi-asset (the facts are gathered once per run)."""
    upstream = measured_products(mesh)

    @dg.multi_asset(
        name="measure_mesh",  # the op; "mesh_metrics" is the job's name, and a repository wants them apart
        group_name=GROUP,
        can_subset=True,
        specs=[
            dg.AssetSpec(
                key=dg.AssetKey([PREFIX, m.name]),
                description=m.description,
                kinds={"python", "json"},
                owners=OWNERS,
                deps=upstream,
                skippable=True,
            )
            for m in metrics.METRICS
        ],
    )
    def _metrics(context):  # an AssetExecutionContext (Dagster reads the annotation, so none here)
        # A lapsed grant or a broken domain must not hide the metrics of the rest.
        mesh = load_mesh(check_grants=False, strict=False)
        facts = metrics.gather(mesh, context.instance, previous=metric_history.read_latest())
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            value = metrics.measure(metrics.BY_NAME[key.path[-1]], facts)
            path = metric_history.write(value)
            yield dg.MaterializeResult(asset_key=key, metadata=_metadata(value, path))

    return [_metrics]


def metrics_job() -> dg.UnresolvedAssetJobDefinition:
    """Every metric: what the hourly schedule and ``mesh build`` run."""
    # One step that reads a few files and the instance: a step process of its own would cost more than it.
    return dg.define_asset_job(
        JOB,
        selection=dg.AssetSelection.groups(GROUP),
        executor_def=dg.in_process_executor,
        tags={"meshwork/metrics": "all"},
    )
