"""The platform's own code location: governance at runtime, the mesh metrics, closing dead runs and the
end of each domain run in OpenLineage."""

import dagster as dg

from meshwork.locations.governance_sensors import governance_definitions
from meshwork.locations.metric_assets import metric_assets
from meshwork.runtime.orphan_runs import recovery_sensor
from meshwork.runtime.parent_lineage import run_lineage_sensor


@dg.definitions
def defs() -> dg.Definitions:
    metrics = metric_assets()
    refresh = dg.ScheduleDefinition(
        name="mesh_metrics_hourly",
        target=dg.AssetSelection.groups("mesh_metrics"),
        cron_schedule="5 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    own = dg.Definitions(assets=metrics, schedules=[refresh], sensors=[recovery_sensor(), run_lineage_sensor()])
    return dg.Definitions.merge(governance_definitions(), own)
