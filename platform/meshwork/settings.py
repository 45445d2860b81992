"""The one place Meshwork reads its environment.

``MESH_HOME``       where warehouses, ports, source landing files and the local Dagster instance live
                    (default: ``.mesh/`` in the project checkout, ignored by git).
``MESH_ENV``        the environment name (``local`` by default; ``ci``, ``prod``…), recorded in manifests.
``MESH_PROJECT_DIR`` the checkout holding ``workspace.yaml``, ``domains/`` and ``dbt_project/``
                    (default: found upwards from the working directory, then from this package).
``MESH_DUCKDB_THREADS`` / ``MESH_DUCKDB_MEMORY_LIMIT``
                    per-process DuckDB limits. Set explicitly because DuckDB's default (80% of RAM
                    per process) over-commits as soon as two runs overlap.
``MESH_DBT_IN_PROCESS`` ``1`` (default): dbt runs inside the step's process through dbt's Python API;
                    ``0``: as a ``dbt`` subprocess through dagster-dbt's CLI resource (the way back).
``MESH_PORT_RETENTION`` how many snapshots of each port version are kept (default 5).
``MESH_NOTIFY_WEBHOOK`` URL the governance notifier POSTs notices to (default: none, notices go to
                    the file outbox ``$MESH_HOME/governance/notifications.jsonl``).
``MESH_NOTIFY_TIMEOUT`` seconds a webhook delivery may take before the notice goes to the outbox (5).
``MESH_GOVERNANCE_INTERVAL`` seconds between two evaluations of the governance sensors (300).
``MESH_GRANT_NOTICE_DAYS`` how many days before it expires a grant is reported (14).
``MESH_CATALOG_DIR`` where ``mesh catalog build`` writes the static catalog (default ``$MESH_HOME/catalog``).
``MESH_CATALOG_URL`` the base URL under which that catalog is served, used for the links in Dagster's
                    asset metadata (default: the ``file://`` URL of the catalog folder).

Values are read on every call, not cached at import, so tests and the CLI can point a process at
another ``MESH_HOME`` before anything runs.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def project_dir() -> Path:
    explicit = os.environ.get("MESH_PROJECT_DIR")
    if explicit:
        return Path(explicit).resolve()
    for candidate in (Path.cwd(), *Path.cwd().parents, *_PACKAGE_DIR.parents):
        if (candidate / "workspace.yaml").is_file() and (candidate / "domains").is_dir():
            return candidate
    raise RuntimeError(
        "cannot find the Meshwork project (a folder with workspace.yaml and domains/); "
        "run from inside the checkout or set MESH_PROJECT_DIR"
    )


def mesh_home() -> Path:
    home = os.environ.get("MESH_HOME")
    return Path(home).resolve() if home else project_dir() / ".mesh"


def environment() -> str:
    return os.environ.get("MESH_ENV", "local")


def dagster_home() -> Path:
    return mesh_home() / "dagster"


def sources_dir() -> Path:
    return mesh_home() / "sources"


def ports_dir() -> Path:
    return mesh_home() / "ports"


def warehouses_dir() -> Path:
    return mesh_home() / "warehouses"


def logs_dir() -> Path:
    return mesh_home() / "logs"


def domains_dir() -> Path:
    return project_dir() / "domains"


def dbt_project_dir() -> Path:
    return project_dir() / "dbt_project"


def workspace_file() -> Path:
    return project_dir() / "workspace.yaml"


def duckdb_threads() -> int:
    return int(os.environ.get("MESH_DUCKDB_THREADS", "2"))


def duckdb_memory_limit() -> str:
    return os.environ.get("MESH_DUCKDB_MEMORY_LIMIT", "2GB")


def duckdb_temp_dir() -> Path:
    return mesh_home() / "tmp" / "duckdb"


def duckdb_config() -> dict[str, str | int]:
    return {
        "threads": duckdb_threads(),
        "memory_limit": duckdb_memory_limit(),
        # Keep large sorts and joins inside the mesh's own folder, not /tmp.
        "temp_directory": str(duckdb_temp_dir()),
    }


def dbt_in_process() -> bool:
    return os.environ.get("MESH_DBT_IN_PROCESS", "1") != "0"


def port_retention() -> int:
    return max(1, int(os.environ.get("MESH_PORT_RETENTION", "5")))


def notify_webhook() -> str | None:
    return os.environ.get("MESH_NOTIFY_WEBHOOK") or None


def notify_timeout() -> float:
    return float(os.environ.get("MESH_NOTIFY_TIMEOUT", "5"))


def notifications_outbox() -> Path:
    return mesh_home() / "governance" / "notifications.jsonl"


def governance_interval() -> int:
    return int(os.environ.get("MESH_GOVERNANCE_INTERVAL", "300"))


def grant_notice_days() -> int:
    return int(os.environ.get("MESH_GRANT_NOTICE_DAYS", "14"))


def catalog_dir() -> Path:
    explicit = os.environ.get("MESH_CATALOG_DIR")
    return Path(explicit).resolve() if explicit else mesh_home() / "catalog"


def catalog_url() -> str:
    """Base URL of the published catalog, without a trailing slash."""
    return (os.environ.get("MESH_CATALOG_URL") or catalog_dir().as_uri()).rstrip("/")


def metrics_dir() -> Path:
    return mesh_home() / "metrics"


def cache_dir() -> Path:
    """Derived data that can always be recomputed (safe to delete)."""
    return mesh_home() / "cache"


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for child processes (dagster, dbt) so they see the same mesh as this one."""
    env = dict(os.environ)
    env.update(
        MESH_HOME=str(mesh_home()),
        MESH_PROJECT_DIR=str(project_dir()),
        DAGSTER_HOME=str(dagster_home()),
    )
    env.update(extra or {})
    return env
