"""The platform's own code location: governance at runtime and the mesh metrics."""

import dagster as dg

from meshwork.locations.governance_sensors import governance_definitions
from meshwork.locations.metric_assets import metric_assets


@dg.definitions
def defs() -> dg.Definitions:
    metrics = metric_assets()
    refresh = dg.ScheduleDefinition(
        name="mesh_metrics_hourly",
        target=dg.AssetSelection.groups("mesh_metrics"),
        cron_schedule="5 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions.merge(governance_definitions(), dg.Definitions(assets=metrics, schedules=[refresh]))
