"""The one place Meshwork reads its environment.

``MESH_HOME``       where warehouses, ports, source landing files and the local Dagster instance live
                    (default: ``.mesh/`` in the project checkout, ignored by git).
``MESH_ENV``        the environment name (``local`` by default; ``ci``, ``prod``…), recorded in manifests.
``MESH_PROJECT_DIR`` the checkout holding ``workspace.yaml``, ``domains/`` and ``dbt_project/``
                    (default: found upwards from the working directory, then from this package).
``MESH_DUCKDB_THREADS`` / ``MESH_DUCKDB_MEMORY_LIMIT``
                    per-process DuckDB limits. Set explicitly because DuckDB's default (80% of RAM
                    per process) over-commits as soon as two runs overlap.
``MESH_DBT_IN_PROCESS`` ``0``: dbt as a subprocess through dagster-dbt's CLI resource (default ``1``: in process).
``MESH_WARM_WORKER`` ``0``: each ``mesh build`` run in a fresh process (default ``1``: forked, runtime/warm_worker).
``MESH_PORT_RETENTION`` how many snapshots of each port version are kept (default 5).
``MESH_ROW_DROP_LIMIT`` the share of the previous snapshot's rows a port may lose in one publish before its
                    gate fails (default 0.5; a contract may allow more with ``maxRowDrop``).
``MESH_PORTS_URL``   where output ports are stored: a local folder (default ``$MESH_HOME/ports``) or
                    ``s3://bucket/prefix`` for S3-compatible object storage (see ``meshwork.storage.port_store``).
``MESH_S3_ENDPOINT_URL`` the endpoint of a non-AWS S3-compatible store (MinIO, Ceph, R2…); default AWS.
``MESH_S3_REGION``   the bucket's region (default: the AWS SDK's own configuration, else us-east-1).
                    Credentials are the AWS SDK's own chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
                    ``AWS_PROFILE``, instance roles…), read by boto3 itself like OpenLineage reads its own.
``MESH_PORT_CACHE_SIZE`` how much local disk the cache of verified object-store files may use before the
                    least recently read ones are evicted (default ``20GB``; ``$MESH_HOME/cache/ports``).
``MESH_NOTIFY_WEBHOOK`` / ``MESH_NOTIFY_SLACK`` / ``MESH_NOTIFY_SMTP`` notice channels: JSON, Slack-compatible,
                    ``smtp[s]://[user[:password]@]host[:port]?from=…``; none: the outbox (``MESH_NOTIFY_TIMEOUT``: 5 s).
``MESH_NOTICE_ESCALATE_AFTER`` / ``MESH_NOTICE_ESCALATE_TO`` an open error escalates after (``24h``; ``off``) to
                    the domain's ``escalation`` contact, else to that platform address (governance/escalation.py).
``MESH_GOVERNANCE_INTERVAL`` seconds between two evaluations of the governance sensors (300).
``MESH_GRANT_NOTICE_DAYS`` how many days before it expires a grant is reported (14).
``MESH_REMOVAL_NOTICE_DAYS`` how many days before a pinned port version's ``removedAfter`` date its consumers
                    are warned (``mesh check``, the governance sensor's notice) that they must move (30).
``MESH_CATALOG_DIR`` where ``mesh catalog build`` writes the static catalog (default ``$MESH_HOME/catalog``).
``MESH_CATALOG_URL`` the base URL under which that catalog is served, used for the links in Dagster's
                    asset metadata (default ``http://127.0.0.1:$MESH_CATALOG_PORT``, where ``mesh dev`` serves it).
``MESH_CATALOG_PORT`` the port on which ``mesh dev`` serves the catalog over HTTP beside the UI (3001).
``MESH_DAGSTER_URL`` the Dagster UI's base URL: set, every catalog page links to its asset there
                    (``mesh dev`` sets it to the UI it starts; default: none, no links).
``MESH_SQL_RULE_TIMEOUT`` seconds a contract's ``type: sql`` rule may run in its sandbox before it is
                    stopped and fails (default 300).
``MESH_LINEAGE_TIMEOUT`` seconds one OpenLineage emission may hold up a run before the event goes to
                    the lineage outbox ``$MESH_HOME/lineage/outbox.jsonl`` (default 2).

OpenLineage's own configuration (``OPENLINEAGE_CONFIG``, ``openlineage.yml`` in the working directory or
``~/.openlineage/``, ``OPENLINEAGE_URL``/``_ENDPOINT``/``_API_KEY``, ``OPENLINEAGE__*``, ``OPENLINEAGE_DISABLED``)
is read by the client itself; ``openlineage_configured`` tells whether any is present (else: events.jsonl).
``MESH_DAGSTER_POSTGRES_URL`` a ``postgresql://user@host:port/db`` URL: set, the Dagster instance keeps runs,
                    event log and schedules there, not in SQLite under ``$MESH_HOME/dagster`` (production).
                    It is written to ``dagster.yaml`` (mode 600): give the password to libpq (``PGPASSWORD``).
``MESH_SERVICE_URL`` the control plane (``mesh serve``): set, the mesh runs in the *enforced* mode, where
                    reads, grants, publishes and the audit log go through that service (docs/security.md).
                    Unset (the default), the *local* mode: one OS user, every domain trusted.
``MESH_SERVICE_TOKEN`` / ``MESH_SERVICE_TOKEN_FILE`` the caller's credential for it (a domain's or a person's).
``MESH_SERVICE_HOME`` / ``MESH_SERVICE_DB`` the service's private folder (keys) and its SQLAlchemy database
                    URL (default: SQLite in that folder; ``postgresql+psycopg2://…`` in production).
``MESH_DOMAIN_CREDENTIALS_DIR`` where ``mesh build`` finds each domain's credentials (``<domain>.json``); each
                    domain's runs get only their own.
``MESH_VEND_TTL``    seconds vended read credentials live (300); ``MESH_SERVICE_TIMEOUT`` seconds a call may take.
``MESH_MAX_CONCURRENT_RUNS`` runs the run queue lets run at once (10 on PostgreSQL, 2 on SQLite, which says
                    "database is locked" under many parallel runs); one domain's runs go one at a time.

Values are read on every call, not cached at import, so tests and the CLI can point a process at
another ``MESH_HOME`` before anything runs.
"""

from __future__ import annotations

import json
import os
import re
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


def ports_url() -> str:
    """Where output ports live: ``s3://bucket/prefix`` or a local folder (``file://`` or a path)."""
    url = os.environ.get("MESH_PORTS_URL", "").strip()
    return url if url.startswith("s3://") else str(ports_dir())


def ports_dir() -> Path:
    """The local ports folder (the default store; with ``MESH_PORTS_URL=s3://…`` it is unused)."""
    url = os.environ.get("MESH_PORTS_URL", "").strip()
    if url and not url.startswith("s3://"):
        return Path(url.removeprefix("file://")).resolve()
    return mesh_home() / "ports"


def s3_endpoint_url() -> str | None:
    return os.environ.get("MESH_S3_ENDPOINT_URL") or None


def s3_region() -> str | None:
    return os.environ.get("MESH_S3_REGION") or None


def port_cache_dir() -> Path:
    """Verified copies of object-store port files, named by checksum (safe to delete)."""
    return cache_dir() / "ports"


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def port_cache_bytes() -> int:
    raw = os.environ.get("MESH_PORT_CACHE_SIZE", "20GB").strip().upper().replace(" ", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Z]*)", raw)
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"MESH_PORT_CACHE_SIZE={raw!r}: write a size such as 20GB or 500MB")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


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
    return os.environ.get("MESH_DUCKDB_MEMORY_LIMIT", "384MB")  # low on purpose: docs/benchmarks.md


def duckdb_temp_dir() -> Path:
    return mesh_home() / "tmp" / "duckdb"


def duckdb_config() -> dict[str, str | int]:
    return {
        "threads": duckdb_threads(),
        "memory_limit": duckdb_memory_limit(),
        # Keep large sorts and joins inside the mesh's own folder, not /tmp.
        "temp_directory": str(duckdb_temp_dir()),
    }


def sql_rule_timeout() -> float:
    return max(0.01, float(os.environ.get("MESH_SQL_RULE_TIMEOUT", "300")))


def dbt_in_process() -> bool:
    return os.environ.get("MESH_DBT_IN_PROCESS", "1") != "0"


def warm_worker() -> bool:
    return os.environ.get("MESH_WARM_WORKER", "1") != "0"


def port_retention() -> int:
    return max(1, int(os.environ.get("MESH_PORT_RETENTION", "5")))


def row_drop_limit() -> float:
    raw = os.environ.get("MESH_ROW_DROP_LIMIT", "0.5").strip()
    try:
        limit = float(raw)
    except ValueError:
        limit = -1.0
    if not 0 <= limit <= 1:
        raise ValueError(f"MESH_ROW_DROP_LIMIT={raw!r}: write a share between 0 and 1 (0.5: half the rows)")
    return limit


def notify_channels() -> dict[str, str]:
    """The notices' channels that are configured, by name (webhook, slack, smtp): their URLs."""
    named = {"webhook": "MESH_NOTIFY_WEBHOOK", "slack": "MESH_NOTIFY_SLACK", "smtp": "MESH_NOTIFY_SMTP"}
    return {name: url for name, var in named.items() if (url := os.environ.get(var, "").strip())}


def notify_timeout() -> float:
    return float(os.environ.get("MESH_NOTIFY_TIMEOUT", "5"))


def notice_escalation() -> tuple[str, str | None]:
    return os.environ.get("MESH_NOTICE_ESCALATE_AFTER", "24h"), os.environ.get("MESH_NOTICE_ESCALATE_TO") or None


def notifications_outbox() -> Path:
    return mesh_home() / "governance" / "notifications.jsonl"


def governance_interval() -> int:
    return int(os.environ.get("MESH_GOVERNANCE_INTERVAL", "300"))


def grant_notice_days() -> int:
    return int(os.environ.get("MESH_GRANT_NOTICE_DAYS", "14"))


def removal_notice_days() -> int:
    return int(os.environ.get("MESH_REMOVAL_NOTICE_DAYS", "30"))


def catalog_dir() -> Path:
    explicit = os.environ.get("MESH_CATALOG_DIR")
    return Path(explicit).resolve() if explicit else mesh_home() / "catalog"


def catalog_port() -> int:
    raw = os.environ.get("MESH_CATALOG_PORT", "3001").strip()
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"MESH_CATALOG_PORT={raw!r}: write a TCP port number, such as 3001")
    return int(raw)


def catalog_url() -> str:
    """Base URL of the published catalog, without a trailing slash: by default where ``mesh dev``
    serves it (a ``file://`` link does nothing from a web page such as Dagster's UI)."""
    return (os.environ.get("MESH_CATALOG_URL") or f"http://127.0.0.1:{catalog_port()}").rstrip("/")


def dagster_url() -> str | None:
    """The Dagster UI's base URL, without a trailing slash, or None when not known."""
    return os.environ.get("MESH_DAGSTER_URL", "").strip().rstrip("/") or None


def metrics_dir() -> Path:
    return mesh_home() / "metrics"


def cache_dir() -> Path:
    """Derived data that can always be recomputed (safe to delete)."""
    return mesh_home() / "cache"


DAGSTER_POSTGRES_URL_VAR = "MESH_DAGSTER_POSTGRES_URL"


def dagster_postgres_url() -> str | None:
    return os.environ.get(DAGSTER_POSTGRES_URL_VAR) or None


def max_concurrent_runs() -> int:
    explicit = os.environ.get("MESH_MAX_CONCURRENT_RUNS")
    if explicit:
        return int(explicit)
    return 10 if dagster_postgres_url() else 2


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for child processes (dagster, dbt) so they see the same mesh as this one."""
    env = dict(os.environ)
    env.update(MESH_HOME=str(mesh_home()), MESH_PROJECT_DIR=str(project_dir()), DAGSTER_HOME=str(dagster_home()))
    env.update(extra or {})
    return env


def dbt_target_dir(domain: str) -> Path:
    """The dbt target folder of a domain's runs (its manifest holds the compiled SQL of the last run)."""
    return mesh_home() / "dbt" / domain / "target"


def lineage_dir() -> Path:
    return mesh_home() / "lineage"


def lineage_events_file() -> Path:
    """Where events go when no OpenLineage transport is configured."""
    return lineage_dir() / "events.jsonl"


def lineage_outbox() -> Path:
    """Events a configured transport did not accept in time, for ``mesh lineage replay``."""
    return lineage_dir() / "outbox.jsonl"


def lineage_timeout() -> float:
    return max(0.05, float(os.environ.get("MESH_LINEAGE_TIMEOUT", "2")))


def openlineage_environment() -> dict[str, str]:
    """The OpenLineage client's own environment variables (it reads them; we key its cache on them)."""
    return {k: v for k, v in os.environ.items() if k.startswith("OPENLINEAGE")}


def openlineage_config_file() -> Path | None:
    """The openlineage.yml the client will use, searched in the client's order."""
    explicit = os.environ.get("OPENLINEAGE_CONFIG")
    for candidate in (explicit, Path.cwd() / "openlineage.yml", Path.home() / ".openlineage" / "openlineage.yml"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def openlineage_configured() -> bool:
    """True when the user configured OpenLineage (a file, a URL, ``OPENLINEAGE__*`` or disabling it)."""
    env = openlineage_environment()
    return (
        openlineage_config_file() is not None
        or bool(env.get("OPENLINEAGE_URL"))
        or env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true"
        or any(k.startswith("OPENLINEAGE__TRANSPORT") for k in env)
    )


# -- enforced mode: the control plane (meshwork.service) -------------------------------------------


def service_url() -> str | None:
    """``MESH_SERVICE_URL``: set, the mesh runs in enforced mode against that control plane."""
    return os.environ.get("MESH_SERVICE_URL", "").strip().rstrip("/") or None


def mode() -> str:
    return "enforced" if service_url() else "local"


def service_token() -> str | None:
    """The caller's credential for the control plane: ``MESH_SERVICE_TOKEN`` or the file ``MESH_SERVICE_TOKEN_FILE``
    (how a Kubernetes Secret is mounted)."""
    token = os.environ.get("MESH_SERVICE_TOKEN", "").strip()
    if not token and (path := os.environ.get("MESH_SERVICE_TOKEN_FILE")):
        token = Path(path).read_text(encoding="utf-8").strip()
    return token or None


def service_dir() -> Path:
    """The service's private state (signing key, masking key, SQLite database): never mounted in domain pods."""
    return Path(os.environ.get("MESH_SERVICE_HOME") or mesh_home() / "service").resolve()


def service_db_url() -> str:
    return os.environ.get("MESH_SERVICE_DB") or f"sqlite:///{service_dir() / 'state.db'}"


def vend_ttl() -> int:
    """Seconds vended storage credentials live (default 300): a revocation is complete after this at worst."""
    return max(5, int(os.environ.get("MESH_VEND_TTL", "300")))


def service_timeout() -> float:
    return max(0.5, float(os.environ.get("MESH_SERVICE_TIMEOUT", "30")))


def domain_environment(domain: str) -> dict[str, str]:
    """The credentials a domain's runs use in the enforced mode, from
    ``MESH_DOMAIN_CREDENTIALS_DIR/<domain>.json`` (written by ``mesh identities issue --domain D
    --write-credentials DIR``; in Kubernetes, a Secret per domain). Empty when no such folder is
    configured (the local mode)."""
    folder = os.environ.get("MESH_DOMAIN_CREDENTIALS_DIR")
    if not folder:
        return {}
    path = Path(folder) / f"{domain}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no credentials for domain '{domain}' (see mesh identities issue)")
    data = json.loads(path.read_text(encoding="utf-8"))
    env = {"MESH_SERVICE_TOKEN": data["token"]}
    if data.get("storage"):
        env.update(
            AWS_ACCESS_KEY_ID=data["storage"]["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=data["storage"]["aws_secret_access_key"],
        )
    return env
