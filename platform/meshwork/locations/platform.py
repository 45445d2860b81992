"""The platform's own code location: governance at runtime and the mesh metrics."""

import dagster as dg

from meshwork.locations.governance_sensors import governance_definitions
from meshwork.locations.metric_assets import metric_assets
from meshwork.model.loader import load_mesh


@dg.definitions
def defs() -> dg.Definitions:
    metrics = metric_assets()
    refresh = dg.ScheduleDefinition(
        name="mesh_metrics_hourly",
        target=dg.AssetSelection.groups("mesh_metrics"),
        cron_schedule="5 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    # Grants are checked by the `grants` sensor here; a missing one must not hide the whole location.
    governance = governance_definitions(load_mesh(check_grants=False))
    return dg.Definitions.merge(governance, dg.Definitions(assets=metrics, schedules=[refresh]))
