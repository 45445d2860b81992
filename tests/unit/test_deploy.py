"""The deployment files in deploy/ parse, fit Dagster's Helm chart and stay in step with the repository.

The chart cannot be fetched here, so the sections we set are described below with the field names
of the chart's own values schema (unknown keys refused, required ones required); the rest of the
test ties the values to workspace.yaml, the Dockerfile, the runtime lockfile and settings.py.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PullPolicy(StrEnum):
    always = "Always"
    if_not_present = "IfNotPresent"
    never = "Never"


class Image(Strict):
    repository: str = Field(min_length=1)
    tag: str = Field(min_length=1)
    pullPolicy: PullPolicy


class NamedRef(Strict):
    name: str


class Volume(BaseModel):
    name: str


class VolumeMount(Strict):
    name: str
    mountPath: str
    subPath: str | None = None
    readOnly: bool | None = None


class IncludeConfig(Strict):
    enabled: bool


class UserDeployment(Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    image: Image
    dagsterApiGrpcArgs: list[str]
    port: int
    includeConfigInLaunchedRuns: IncludeConfig | None = None
    env: dict[str, str] | None = None
    envConfigMaps: list[NamedRef] | None = None
    envSecrets: list[NamedRef] | None = None
    resources: dict[str, Any] | None = None
    volumeMounts: list[VolumeMount] | None = None
    volumes: list[Volume] | None = None


class UserDeployments(Strict):
    enabled: bool
    enableSubchart: bool
    imagePullSecrets: list[NamedRef]
    deployments: list[UserDeployment]


class PostgresService(Strict):
    port: int


class PostgreSQL(Strict):
    enabled: bool
    postgresqlHost: str
    postgresqlUsername: str
    postgresqlPassword: str
    postgresqlDatabase: str
    postgresqlParams: dict[str, Any] | None = None
    service: PostgresService


class K8sRunLauncherConfig(Strict):
    imagePullPolicy: PullPolicy
    loadInclusterConfig: bool
    envConfigMaps: list[NamedRef]
    envSecrets: list[NamedRef]
    envVars: list[str]
    volumeMounts: list[VolumeMount]
    volumes: list[Volume]
    failPodOnRunFailure: bool | None = None
    resources: dict[str, Any] | None = None
    runK8sConfig: dict[str, Any] | None = None


class RunLauncherConfig(Strict):
    k8sRunLauncher: K8sRunLauncherConfig


class RunLauncher(Strict):
    type: str = Field(pattern="^K8sRunLauncher$")
    config: RunLauncherConfig


class TagLimitValue(Strict):
    applyLimitPerUniqueValue: bool


class TagConcurrencyLimit(Strict):
    key: str
    value: str | TagLimitValue | None = None
    limit: int = Field(ge=1)


class QueuedRunCoordinatorConfig(Strict):
    maxConcurrentRuns: int | None = None
    tagConcurrencyLimits: list[TagConcurrencyLimit] | None = None
    dequeueIntervalSeconds: int | None = None


class RunCoordinatorConfig(Strict):
    queuedRunCoordinator: QueuedRunCoordinatorConfig


class RunCoordinator(Strict):
    enabled: bool
    type: str = Field(pattern="^QueuedRunCoordinator$")
    config: RunCoordinatorConfig


class Daemon(Strict):
    enabled: bool
    runCoordinator: RunCoordinator
    runMonitoring: dict[str, Any] | None = None


class Webserver(Strict):
    replicaCount: int
    image: Image
    service: dict[str, Any]
    env: dict[str, str] | None = None
    resources: dict[str, Any] | None = None


class Values(Strict):
    global_: dict[str, Any] = Field(alias="global")
    dagsterWebserver: Webserver
    user_deployments: UserDeployments = Field(alias="dagster-user-deployments")
    postgresql: PostgreSQL
    generatePostgresqlPasswordSecret: bool
    runLauncher: RunLauncher
    dagsterDaemon: Daemon
    additionalInstanceConfig: dict[str, Any]
    telemetry: dict[str, bool]


@pytest.fixture(scope="module")
def values() -> Values:
    return Values.model_validate(yaml.safe_load((DEPLOY / "helm/values.yaml").read_text(encoding="utf-8")))


def workspace_modules() -> list[str]:
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text(encoding="utf-8"))
    return [entry["python_module"]["module_name"] for entry in workspace["load_from"]]


def test_there_is_one_user_code_deployment_per_workspace_location(values: Values):
    served = []
    for deployment in values.user_deployments.deployments:
        args = deployment.dagsterApiGrpcArgs
        assert args[:1] == ["-m"] and len(args) == 2, deployment.name
        served.append(args[1])
    assert sorted(served) == sorted(workspace_modules())
    names = [d.name for d in values.user_deployments.deployments]
    assert len(set(names)) == len(names)


def test_every_location_and_run_uses_the_same_image_and_mesh_configuration(values: Values):
    images = {(d.image.repository, d.image.tag) for d in values.user_deployments.deployments}
    assert len(images) == 1
    for d in values.user_deployments.deployments:
        assert d.includeConfigInLaunchedRuns and d.includeConfigInLaunchedRuns.enabled, d.name
        assert [c.name for c in d.envConfigMaps or []] == ["meshwork-env"], d.name
    launcher = values.runLauncher.config.k8sRunLauncher
    assert [c.name for c in launcher.envConfigMaps] == ["meshwork-env"]
    # Enforced mode: nothing of governance in any location or run pod, and no Secret shared between
    # domains (each domain's pods get only their own: token and storage keys).
    assert not launcher.volumeMounts and not launcher.envSecrets
    secrets = {}
    for d in values.user_deployments.deployments:
        assert not any("governance" in m.mountPath for m in d.volumeMounts or []), d.name
        secrets[d.name] = [s.name for s in d.envSecrets or []]
    domains = {name: refs for name, refs in secrets.items() if name != "meshwork-platform"}
    for name, refs in domains.items():
        assert refs == [f"meshwork-domain-{name.removeprefix('meshwork-')}"], name
    assert "meshwork-platform" in secrets


def test_the_instance_is_on_postgres_and_runs_queue_one_per_domain(values: Values):
    assert values.postgresql.postgresqlHost and values.postgresql.postgresqlDatabase
    coordinator = values.dagsterDaemon.runCoordinator
    assert coordinator.enabled
    limits = coordinator.config.queuedRunCoordinator.tagConcurrencyLimits or []
    per_location = [
        limit
        for limit in limits
        if limit.key == "dagster/code_location"
        and isinstance(limit.value, TagLimitValue)
        and limit.value.applyLimitPerUniqueValue
    ]
    assert [limit.limit for limit in per_location] == [1]
    pools = values.additionalInstanceConfig["concurrency"]["pools"]
    assert pools == {"default_limit": 1, "granularity": "op"}


def test_the_schema_refuses_a_misspelt_key():
    data = yaml.safe_load((DEPLOY / "helm/values.yaml").read_text(encoding="utf-8"))
    data["runLauncher"]["config"]["k8sRunLauncher"]["imagePullPolicyy"] = "Always"
    with pytest.raises(ValidationError, match="imagePullPolicyy"):
        Values.model_validate(data)


def test_the_configmap_sets_only_settings_meshwork_or_openlineage_reads():
    docs = list(yaml.safe_load_all((DEPLOY / "k8s/meshwork.yaml").read_text(encoding="utf-8")))
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "meshwork-env"]
    settings_source = (REPO / "platform/meshwork/core/settings.py").read_text(encoding="utf-8")
    for key in config["data"]:
        if key.startswith("MESH_"):
            assert f'"{key}"' in settings_source, f"{key} is not a setting of meshwork.core.settings"
        else:
            assert key.startswith("OPENLINEAGE_"), key
    claims = {d["metadata"]["name"]: d["spec"]["accessModes"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert claims == {"meshwork-control-plane": ["ReadWriteOnce"], "meshwork-sources": ["ReadWriteMany"]}
    # Only the control plane mounts its state; it alone gets the credentials that read every port.
    (plane,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = plane["spec"]["template"]["spec"]
    assert [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]] == ["meshwork-control-plane"]
    assert {"secretRef": {"name": "meshwork-control-plane"}} in pod["containers"][0]["envFrom"]


def test_the_dockerfile_copies_what_exists_and_installs_only_hash_pinned_packages():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs and all("--no-deps" in line for line in installs), installs
    assert any("--require-hashes" in line for line in installs)
    lock = (DEPLOY / "requirements.lock").read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s;\\]+)", lock, flags=re.M))
    assert pinned, "deploy/requirements.lock pins nothing"
    # The image's lock runs the same dagster as development, with the Postgres and Kubernetes pieces.
    dev_lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    dev_dagster = re.search(r"^dagster==(\S+)", dev_lock, flags=re.M)
    assert dev_dagster and pinned.get("dagster") == dev_dagster.group(1)
    for package in ("dagster-postgres", "dagster-k8s", "dagster-dbt", "dbt-duckdb", "duckdb"):
        assert package in pinned, f"{package} missing from deploy/requirements.lock"
    for dev_only in ("pytest", "ruff", "mypy", "moto"):
        assert dev_only not in pinned, f"{dev_only} is a development tool, not for the image"
    assert all("--hash=sha256:" in block for block in lock.split("\n\n") if "==" in block)
