"""The mesh's Dagster instance, configured by ``$MESH_HOME/dagster/dagster.yaml``.

Storage is SQLite files in that folder by default, or PostgreSQL when ``MESH_DAGSTER_POSTGRES_URL``
is set (runs, event log and schedules; the production setup). Either way the file configures:

- pools limited to one slot: the pool ``warehouse_<domain>`` is what serializes writers of a
  domain's warehouse across steps and runs;
- the queued run coordinator, admitting at most one run per domain (runs carry the tag
  ``meshwork/domain``, see ``meshwork.runtime.domain_runs``) and ``MESH_MAX_CONCURRENT_RUNS`` in all.

Meshwork owns the file while its first line is :data:`MARKER` and rewrites it when the settings
change (switching to PostgreSQL, say); delete that line to manage the file by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from meshwork.core import settings
from meshwork.core.errors import MeshError
from meshwork.runtime import orphan_runs
from meshwork.runtime.domain_runs import DOMAIN_TAG

MARKER = "# Written by meshwork.runtime.instance from the mesh settings; delete this line to edit the file by hand."

# What this module wrote before it had a marker: still ours to rewrite.
_UNMARKED_V1 = {
    "concurrency": {"pools": {"default_limit": 1, "granularity": "op"}},
    "telemetry": {"enabled": False},
    "run_monitoring": {"enabled": True},
}


class InstanceUnavailable(MeshError):
    """The instance's storage cannot be reached (PostgreSQL down, wrong URL, bad credentials)."""


def instance_config() -> dict[str, Any]:
    config: dict[str, Any] = {
        "concurrency": {
            "pools": {"default_limit": 1, "granularity": "op"},
            "runs": {
                "max_concurrent_runs": settings.max_concurrent_runs(),
                # One run per domain at a time: a second would only wait for the warehouse pool
                # while holding a run slot other domains could use.
                "tag_concurrency_limits": [
                    {"key": DOMAIN_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
                ],
            },
        },
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"},
        "telemetry": {"enabled": False},
        # The daemon frees the pool slots a finished run still holds (a step that crashed mid-way).
        "run_monitoring": {"enabled": True, "free_slots_after_run_end_seconds": 60},
    }
    if url := settings.dagster_postgres_url():
        config["storage"] = {"postgres": {"postgres_url": sqlalchemy_url(url)}}
    return config


def sqlalchemy_url(url: str) -> str:
    """Name the psycopg2 driver: SQLAlchemy 2.1 would pick psycopg 3 for a bare ``postgresql://``,
    which dagster-postgres does not support (its ``NOTIFY run_events, %(id)s`` fails to bind)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg2://{rest}" if sep and scheme in ("postgres", "postgresql") else url


def storage_description() -> str:
    """Where the instance keeps its runs, for messages (credentials left out)."""
    url = settings.dagster_postgres_url()
    if not url:
        return f"SQLite under {settings.dagster_home()}"
    parts = urlsplit(url)
    return f"PostgreSQL at {parts.hostname}:{parts.port or 5432}{parts.path} ({settings.DAGSTER_POSTGRES_URL_VAR})"


def _is_ours(config: Path) -> bool:
    text = config.read_text(encoding="utf-8")
    return text.startswith(MARKER) or yaml.safe_load(text) == _UNMARKED_V1


def write_config(home: Path) -> Path:
    config = home / "dagster.yaml"
    wanted = f"{MARKER}\n{yaml.safe_dump(instance_config(), sort_keys=False)}"
    if config.exists() and (not _is_ours(config) or config.read_text(encoding="utf-8") == wanted):
        return config
    tmp = config.with_suffix(".tmp")
    tmp.write_text(wanted, encoding="utf-8")
    tmp.chmod(0o600)  # it may hold the database password
    tmp.replace(config)
    return config


def ensure_local_instance() -> Path:
    """Write ``$MESH_HOME/dagster/dagster.yaml`` and create (or migrate) the instance's storage.

    Raises :class:`InstanceUnavailable` naming the storage when it cannot be opened.
    """
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    write_config(home)
    if problem := ping():
        raise InstanceUnavailable(f"cannot open the Dagster instance storage ({storage_description()}): {problem}")
    # Create the storages once, up front: domains that start in parallel against a fresh instance
    # would otherwise race to create and migrate the same databases (SQLite files or Postgres tables).
    import dagster as dg  # deferred: `mesh` commands that never open the instance skip its import

    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.get_runs_count()  # touches the run storage: a dead server fails here, not mid-build
            orphan_runs.close_remembered(instance)
            orphan_runs.recover(instance)  # runs whose worker was killed would block their domain's pool
    except Exception as exc:  # psycopg2, sqlalchemy and Dagster raise unrelated types for the same cause
        raise InstanceUnavailable(
            f"cannot open the Dagster instance storage ({storage_description()}): {_first_line(exc)}"
        ) from exc
    return home


def ping() -> str | None:
    """Why the PostgreSQL server does not answer, or None (also for SQLite). One quick connection:
    dagster-postgres retries with backoff for about 20 s per storage before it gives up."""
    url = settings.dagster_postgres_url()
    if not url:
        return None
    import psycopg2  # deferred: only a PostgreSQL instance needs the driver

    scheme, _, rest = url.partition("://")
    try:
        psycopg2.connect(f"{scheme.split('+')[0]}://{rest}", connect_timeout=5).close()
    except psycopg2.Error as exc:
        return _first_line(exc)
    return None


def storage_problem() -> str | None:
    """Why the instance storage is unreachable right now, or None when it answers."""
    try:
        ensure_local_instance()
    except InstanceUnavailable as exc:
        return str(exc)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
