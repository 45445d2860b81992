"""``mesh build`` measures the mesh when its domains are done: one run of the platform location's
``mesh_metrics`` job, recorded under that location like the domains' runs
(:mod:`meshwork.runtime.located_runs`), so the ``mesh/*`` assets are materialized right after the
first build instead of at the next hourly tick, and count this build's failed publishes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from meshwork.core import settings
from meshwork.locations import metric_assets
from meshwork.runtime import located_runs, warm_runs

PLATFORM_MODULE = "meshwork.locations.platform"


@dataclass(frozen=True)
class MetricsRun:
    ok: bool
    log: Path
    message: str


def platform_location() -> str | None:
    """The workspace's name for the platform location, or None when the workspace has none."""
    return next((loc.name for loc in located_runs.locations() if loc.module_name == PLATFORM_MODULE), None)


def measure(log_dir: Path) -> MetricsRun:
    """Run the metrics job as a worker of this process (it dies with the build); its output goes to
    ``log_dir/mesh_metrics.log``."""
    log = log_dir / "mesh_metrics.log"
    location = platform_location()
    if location is None:
        return MetricsRun(False, log, f"{settings.workspace_file()} has no code location loading {PLATFORM_MODULE}")
    log_dir.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        # Forked by the build's warm worker when it has one, else a fresh run_worker process.
        returncode = warm_runs.run_located(
            location, metric_assets.JOB, {"meshwork/trigger": "mesh build"}, out, needs_dbt=False
        )
    if returncode:
        return MetricsRun(False, log, f"the metrics run failed (exit {returncode}, log: {log})")
    return MetricsRun(True, log, f"mesh metrics measured (run of {metric_assets.JOB} in code location {location})")
