"""The platform's own code location: governance at runtime, the mesh metrics, closing dead runs and the
end of each domain run in OpenLineage."""

import dagster as dg

from meshwork.locations.governance_sensors import governance_definitions
from meshwork.locations.metric_assets import metric_assets, metrics_job
from meshwork.runtime.orphan_runs import recovery_sensor
from meshwork.runtime.parent_lineage import run_lineage_sensor


@dg.definitions
def defs() -> dg.Definitions:
    job = metrics_job()
    refresh = dg.ScheduleDefinition(
        name="mesh_metrics_hourly",
        job=job,
        cron_schedule="5 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    own = dg.Definitions(
        assets=metric_assets(), jobs=[job], schedules=[refresh], sensors=[recovery_sensor(), run_lineage_sensor()]
    )
    return dg.Definitions.merge(governance_definitions(), own)
