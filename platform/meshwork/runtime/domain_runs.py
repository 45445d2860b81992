"""How a domain's runs are started, and the run tag every one of them carries.

The instance's run queue admits one run per value of :data:`DOMAIN_TAG` at a time (see
``meshwork.runtime.instance``). Dagster copies tags onto a run only from the definition that starts it (a
job, a schedule, an automation sensor); asset tags never become run tags. So each entry point of a
domain declares the tag itself: the build job that ``mesh build`` executes, the ingest and retention
schedules, and the domain's automation sensor. Runs launched from the UI's "Materialize" button use
Dagster's implicit asset job and carry no tag: the warehouse pool still gives them one writer at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

DOMAIN_TAG = "meshwork/domain"


def run_tags(domain: str) -> dict[str, str]:
    return {DOMAIN_TAG: domain}


def build_job_name(domain: str) -> str:
    return f"{domain}_build"


def build_job(domain: str, skip_checks: Sequence[dg.AssetCheckKey] = ()) -> dg.UnresolvedAssetJobDefinition:
    """Every product of the domain and its checks but ``skip_checks``, as one tagged run (what `mesh build`
    executes)."""
    selection: dg.AssetSelection = dg.AssetSelection.all()
    if skip_checks:
        selection = selection - dg.AssetSelection.checks(*skip_checks)
    return dg.define_asset_job(
        build_job_name(domain),
        selection=selection,
        # `tags`, not `run_tags`: Dagster copies job tags onto runs when no run_tags are set, and
        # `dagster job launch` reads only the job tags (it ignores run_tags).
        tags=run_tags(domain),
        description=f"Builds and publishes every product of {domain}, checks included.",
    )


def automation_sensor(domain: str) -> dg.AutomationConditionSensorDefinition:
    """Replaces Dagster's default automation sensor for the location so its runs carry the tag."""
    return dg.AutomationConditionSensorDefinition(
        f"{domain}_automation",
        target=dg.AssetSelection.all(),
        run_tags=run_tags(domain),
        # The default sensor it replaces is on from the start; keep that behaviour.
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Refreshes {domain}'s products when their upstream ports are republished.",
    )
