"""The local Dagster instance under ``$MESH_HOME/dagster``.

Its ``dagster.yaml`` limits every pool to one slot, which is what serializes writers of a domain's
warehouse across steps and runs (each warehouse asset claims the pool ``warehouse_<domain>``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from meshwork import settings

LOCAL_INSTANCE = {
    "concurrency": {"pools": {"default_limit": 1, "granularity": "op"}},
    "telemetry": {"enabled": False},
    "run_monitoring": {"enabled": True},
}


def ensure_local_instance() -> Path:
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        tmp = config.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(LOCAL_INSTANCE, sort_keys=False), encoding="utf-8")
        tmp.replace(config)
    # Create the SQLite storages once, up front: domains that start in parallel against a fresh
    # instance would otherwise race to create and migrate the same databases.
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home
