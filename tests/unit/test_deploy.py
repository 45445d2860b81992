"""deploy/ applies as is: every manifest is valid for the Kubernetes API, the Helm values make an instance
Dagster loads, and each run pod, built by dagster-k8s's own launcher code, is valid and keeps what must
outlive it on a persistent volume.

What is real here: the Kubernetes API schemas bundled by ``kubernetes-validate`` (strict: unknown fields
refused), Dagster's instance loading and config schema, dagster-k8s's container-context merge and Job
construction (the code the run launcher calls), Meshwork's settings and CLI. What is not: Dagster's Helm
chart is not on a package registry, so the two steps the chart's templates do are mirrored below
(``instance_yaml``: ``configmap-instance.yaml``; ``container_context``: the user-deployments subchart's
``dagsterUserDeployments.k8sContainerContext``), and the pods the chart renders itself (webserver, daemon,
code servers) are not validated here; docs/deployment.md has the `helm template` step that does.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import dagster as dg
import kubernetes
import kubernetes_validate
import pytest
import yaml
from dagster_k8s import K8sRunLauncher
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import construct_dagster_k8s_job

from meshwork.cli import main as mesh_cli
from meshwork.core import settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
RELEASE, NAMESPACE = "dagster", "meshwork"  # the runbook's `helm upgrade --install dagster … -n meshwork`
# The oldest Kubernetes minor the manifests are claimed for, and the newest the validator knows.
K8S_VERSIONS = ["1.30", kubernetes_validate.latest_version()]


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def named(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm/values.yaml").read_text(encoding="utf-8"))


def deployments(values: dict[str, Any]) -> list[dict[str, Any]]:
    return values["dagster-user-deployments"]["deployments"]


def mesh_home() -> Path:
    return Path(named("ConfigMap", "meshwork-env")["data"]["MESH_HOME"])


# -- the chart's two templates, mirrored ---------------------------------------------------------------


def instance_yaml(values: dict[str, Any], kubeconfig: Path) -> dict[str, Any]:
    """The dagster.yaml the chart writes, for the parts these values set (storage stays Dagster's default:
    no PostgreSQL here). The launcher reads a kubeconfig instead of the in-cluster one."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    config: dict[str, Any] = {
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
        "job_namespace": NAMESPACE,
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": f"{RELEASE}",
        "dagster_home": "/opt/dagster/dagster_home",
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
    }
    for key, field in [("envConfigMaps", "env_config_maps"), ("envSecrets", "env_secrets")]:
        if launcher.get(key):
            config[field] = [ref["name"] for ref in launcher[key]]
    for key, field in [
        ("envVars", "env_vars"),
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
        ("securityContext", "security_context"),
    ]:
        if launcher.get(key):
            config[field] = launcher[key]
    if launcher.get("failPodOnRunFailure"):
        config["fail_pod_on_run_failure"] = True
    run_k8s = launcher.get("runK8sConfig") or {}
    names = {
        "containerConfig": "container_config",
        "podSpecConfig": "pod_spec_config",
        "podTemplateSpecMetadata": "pod_template_spec_metadata",
        "jobSpecConfig": "job_spec_config",
        "jobMetadata": "job_metadata",
    }
    if run_k8s:
        config["run_k8s_config"] = {names[k]: v for k, v in run_k8s.items()}
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    coordinator = {
        "max_concurrent_runs": "maxConcurrentRuns",
        "tag_concurrency_limits": "tagConcurrencyLimits",
        "dequeue_interval_seconds": "dequeueIntervalSeconds",
    }
    monitoring = daemon["runMonitoring"]
    instance = {
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config},
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",  # the chart's own line: a module path, not an import
            "class": "QueuedRunCoordinator",
            "config": {field: queued[key] for field, key in coordinator.items() if queued.get(key)},
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "max_resume_run_attempts": monitoring["maxResumeRunAttempts"],
            "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"],
        },
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }
    instance.update(values.get("additionalInstanceConfig") or {})
    return instance


def container_context(deployment: dict[str, Any]) -> dict[str, Any]:
    """What the chart hands a code server (DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT) and so its runs."""
    k8s: dict[str, Any] = {
        "image_pull_policy": deployment["image"]["pullPolicy"],
        "env_config_maps": [f"{RELEASE}-{deployment['name']}-user-env"]
        + [ref["name"] for ref in deployment.get("envConfigMaps") or []],
        "namespace": NAMESPACE,
        "service_account_name": f"{RELEASE}-user-deployments",
        "run_k8s_config": {"pod_spec_config": {"automount_service_account_token": True}},
    }
    if deployment.get("envSecrets"):
        k8s["env_secrets"] = [ref["name"] for ref in deployment["envSecrets"]]
    for key, field in [
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
    ]:
        if deployment.get(key):
            k8s[field] = deployment[key]
    return {"k8s": k8s}


@pytest.fixture(scope="module")
def instance(values: dict[str, Any], tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("dagster_home")
    # Never contacted: building a Job object talks to no cluster.
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "offline",
                "clusters": [{"name": "offline", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "offline", "user": {"token": "unused"}}],
                "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "offline"}}],
            }
        ),
        encoding="utf-8",
    )
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml(values, kubeconfig)), encoding="utf-8")
    with dg.DagsterInstance.from_config(str(home)) as loaded:
        yield loaded


def run_job(instance: dg.DagsterInstance, deployment: dict[str, Any]) -> dict[str, Any]:
    """The Job the K8s run launcher creates for a run of ``deployment``'s location, as a manifest."""
    launcher = instance.run_launcher
    assert isinstance(launcher, K8sRunLauncher)
    # create_for_run reads only the run's code origin (the container context its code server sent).
    run = SimpleNamespace(
        job_code_origin=SimpleNamespace(
            repository_origin=SimpleNamespace(container_context=container_context(deployment))
        ),
        tags={},
    )
    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=False)  # type: ignore[arg-type]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image=image, run_launcher=launcher),
        args=["dagster", "api", "execute_run", "{}"],
        job_name="dagster-run-0123456789abcdef",
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/code-location": deployment["name"]},
    )
    return kubernetes.client.ApiClient().sanitize_for_serialization(job)


def mounts_by_path(pod: dict[str, Any]) -> dict[Path, tuple[dict[str, Any], dict[str, Any]]]:
    """mountPath -> (the mount, the pod volume it names), for the pod's first container."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    return {Path(m["mountPath"]): (m, volumes[m["name"]]) for m in pod["containers"][0].get("volumeMounts", [])}


def backing(pod: dict[str, Any], path: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The deepest mount holding ``path`` in the pod (None: the container's own, throwaway, layer)."""
    holders = [(p, mv) for p, mv in mounts_by_path(pod).items() if path == p or p in path.parents]
    return max(holders, key=lambda h: len(h[0].parts))[1] if holders else None


def workspace_modules() -> list[str]:
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text(encoding="utf-8"))
    return [entry["python_module"]["module_name"] for entry in workspace["load_from"]]


def location_of(deployment: dict[str, Any]) -> str:
    module = deployment["dagsterApiGrpcArgs"][1]
    return module.split(".")[1] if module.startswith("domains.") else "platform"


# -- Kubernetes API schemas ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_is_valid_for_the_kubernetes_api(version: str):
    docs = manifests()
    kinds = {d["kind"] for d in docs}
    assert {
        "ConfigMap",
        "Secret",
        "Deployment",
        "PersistentVolumeClaim",
        "Job",
        "CronJob",
        "Ingress",
        "NetworkPolicy",
        "Service",
        "LimitRange",
    } <= kinds
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_refuses_a_misspelt_field_and_a_wrong_type():
    toolbox = named("Deployment", "meshwork-toolbox")
    misspelt = copy.deepcopy(toolbox)
    misspelt["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    with pytest.raises(kubernetes_validate.ValidationError, match="volumeMount"):
        kubernetes_validate.validate(misspelt, K8S_VERSIONS[0], strict=True)
    wrong = copy.deepcopy(toolbox)
    wrong["spec"]["template"]["spec"]["securityContext"]["fsGroup"] = "10001"
    with pytest.raises(kubernetes_validate.ValidationError, match="is not of type 'integer'"):
        kubernetes_validate.validate(wrong, K8S_VERSIONS[0], strict=True)


# -- the Helm values, through Dagster's own code ---------------------------------------------------------


def test_the_instance_the_values_make_loads_in_dagster_with_telemetry_off(instance: dg.DagsterInstance):
    assert isinstance(instance.run_launcher, K8sRunLauncher)
    assert instance.telemetry_enabled is False
    concurrency = instance.get_concurrency_config()
    assert concurrency.pool_config.default_pool_limit == 1
    assert concurrency.run_queue_config is not None
    assert concurrency.run_queue_config.max_concurrent_runs == 10
    limits = concurrency.run_queue_config.tag_concurrency_limits
    assert {"key": "dagster/code_location", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def test_dagster_refuses_run_limits_set_twice(values: dict[str, Any], tmp_path: Path):
    # What these values did before: limits in the run coordinator and pools in `concurrency`.
    twice = copy.deepcopy(values)
    twice["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] = 10
    (tmp_path / "dagster.yaml").write_text(
        yaml.safe_dump(instance_yaml(twice, tmp_path / "kubeconfig")), encoding="utf-8"
    )
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_concurrent_runs"):
        dg.DagsterInstance.from_config(str(tmp_path))


def test_dagster_refuses_a_misspelt_launcher_key(values: dict[str, Any], tmp_path: Path):
    broken = copy.deepcopy(values)
    broken["runLauncher"]["config"]["k8sRunLauncher"]["failPodOnRunFailure"] = True
    config = instance_yaml(broken, tmp_path / "kubeconfig")
    config["run_launcher"]["config"]["image_pull_polcy"] = "Always"
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(dg.DagsterInvalidConfigError, match="image_pull_polcy"):
        dg.DagsterInstance.from_config(str(tmp_path)).run_launcher  # noqa: B018 - loading it is the check


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_each_locations_run_pod_is_a_valid_job(instance: dg.DagsterInstance, values: dict[str, Any], version: str):
    for deployment in deployments(values):
        job = run_job(instance, deployment)
        kubernetes_validate.validate(job, version, strict=True)


def test_run_pods_run_as_10001_with_fs_group_and_the_run_size(instance: dg.DagsterInstance, values: dict[str, Any]):
    for deployment in deployments(values):
        pod = run_job(instance, deployment)["spec"]["template"]["spec"]
        security = pod["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"], security["fsGroup"]) == (10001, 10001, 10001)
        assert security["runAsNonRoot"] is True
        container = pod["containers"][0]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        # A code server's own `resources` would replace these (the chart carries them into its runs).
        assert container["resources"]["limits"]["memory"] == "3Gi", deployment["name"]
        assert container["resources"]["requests"]["memory"] == "3Gi", deployment["name"]
        # The code servers' pods: the same identity (the chart puts these into their Deployments).
        assert deployment["podSecurityContext"]["fsGroup"] == 10001
        assert "resources" not in deployment, f"{deployment['name']}: it would size the run pods"


def test_what_must_outlive_a_run_is_on_a_persistent_volume_and_the_warehouse_on_scratch(
    instance: dg.DagsterInstance, values: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    home = mesh_home()
    monkeypatch.setenv("MESH_HOME", str(home))
    for deployment in deployments(values):
        location = location_of(deployment)
        pod = run_job(instance, deployment)["spec"]["template"]["spec"]
        # The warehouse, spill files and port cache: the pod's emptyDir, not the image's layer.
        for scratch in (settings.warehouses_dir(), settings.duckdb_temp_dir(), settings.port_cache_dir()):
            mount = backing(pod, scratch)
            assert mount and "emptyDir" in mount[1] and mount[1]["emptyDir"].get("sizeLimit"), (location, scratch)
        # The lineage outbox (and events.jsonl): this location's own folder of the lineage volume.
        mount = backing(pod, settings.lineage_outbox())
        assert mount, f"{location}: the lineage outbox is on the pod's throwaway disk"
        assert mount[1]["persistentVolumeClaim"]["claimName"] == "meshwork-lineage"
        assert mount[0]["subPath"] == f"{location}/lineage"
        platform_paths = (
            settings.notifications_outbox(),
            settings.metrics_dir() / "history.jsonl",
            settings.catalog_dir(),
        )
        claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
        if location == "platform":
            for path in platform_paths:
                mount = backing(pod, path)
                assert mount and mount[1]["persistentVolumeClaim"]["claimName"] == "meshwork-platform-state", path
        else:
            assert "meshwork-platform-state" not in claims, f"{location} mounts the platform's state"


def test_run_pods_get_their_own_secret_and_the_mesh_settings_only(instance: dg.DagsterInstance, values: dict[str, Any]):
    for deployment in deployments(values):
        container = run_job(instance, deployment)["spec"]["template"]["spec"]["containers"][0]
        secrets = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
        maps = [s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s]
        location = location_of(deployment)
        assert secrets == ([f"meshwork-domain-{location}"] if location != "platform" else ["meshwork-platform"])
        assert "meshwork-env" in maps


def test_the_check_notices_a_lineage_outbox_on_the_throwaway_disk(
    instance: dg.DagsterInstance, values: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MESH_HOME", str(mesh_home()))
    broken = copy.deepcopy(deployments(values)[0])
    broken["volumeMounts"] = [m for m in broken["volumeMounts"] if m["name"] != "lineage"]
    pod = run_job(instance, broken)["spec"]["template"]["spec"]
    mount = backing(pod, settings.lineage_outbox())
    assert mount is not None and "emptyDir" in mount[1]  # only the scratch disk holds it now


# -- the files agree with each other and with the repository ---------------------------------------------


def test_there_is_one_user_code_deployment_per_workspace_location(values: dict[str, Any]):
    served = []
    for deployment in deployments(values):
        args = deployment["dagsterApiGrpcArgs"]
        assert args[:1] == ["-m"] and len(args) == 2, deployment["name"]
        served.append(args[1])
    assert sorted(served) == sorted(workspace_modules())
    names = [d["name"] for d in deployments(values)]
    assert len(set(names)) == len(names)


def test_every_volume_folder_a_pod_mounts_is_prepared_by_the_init_job(values: dict[str, Any]):
    job = named("Job", "meshwork-volume-init")["spec"]["template"]["spec"]
    script = " ".join(job["containers"][0]["args"])
    claim_of_mount = {
        m["mountPath"]: next(v for v in job["volumes"] if v["name"] == m["name"])["persistentVolumeClaim"]["claimName"]
        for m in job["containers"][0]["volumeMounts"]
    }
    prepared = {
        (claim, path.removeprefix(root + "/"))
        for root, claim in claim_of_mount.items()
        for path in re.findall(rf"{re.escape(root)}/[\w/]+", script)
    }
    pods = [d for d in deployments(values)]
    pods += [
        d["spec"]["template"]["spec"]["containers"][0] | {"volumes": d["spec"]["template"]["spec"]["volumes"]}
        for d in manifests()
        if d["kind"] == "Deployment"
    ]
    pods += [
        d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        | {"volumes": d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]}
        for d in manifests()
        if d["kind"] == "CronJob"
    ]
    used = set()
    for pod in pods:
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in pod.get("volumes") or []
            if "persistentVolumeClaim" in v
        }
        used |= {
            (claims[m["name"]], m["subPath"])
            for m in pod.get("volumeMounts") or []
            if m.get("subPath") and m["name"] in claims
        }
    assert used and used <= prepared, (
        f"mounted but never created (the kubelet would make them root's): {used - prepared}"
    )


def test_the_configmap_sets_only_real_settings_and_names_only_services_that_exist():
    config = named("ConfigMap", "meshwork-env")["data"]
    settings_source = (REPO / "platform/meshwork/core/settings.py").read_text(encoding="utf-8")
    for key in config:
        if key.startswith("MESH_"):
            assert f'"{key}"' in settings_source, f"{key} is not a setting of meshwork.core.settings"
        else:
            assert key.startswith("OPENLINEAGE_") or key == "DBT_SEND_ANONYMOUS_USAGE_STATS", key
    assert config["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert unresolved_services(config) == []
    # The negative: an endpoint nobody deploys is reported.
    assert unresolved_services({"OPENLINEAGE_URL": "http://marquez.meshwork.svc.cluster.local:5000"}) == ["marquez"]


def unresolved_services(config: dict[str, str]) -> list[str]:
    services = {d["metadata"]["name"] for d in manifests() if d["kind"] == "Service"} | {f"{RELEASE}-webserver"}
    hosts = [m.group(1) for v in config.values() if (m := re.search(r"//([a-z0-9-]+)\.[a-z0-9-]+\.svc", v))]
    return [h for h in hosts if h not in services]


def test_every_pod_of_the_mesh_switches_dbt_statistics_off():
    assert named("ConfigMap", "meshwork-env")["data"]["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    for doc in manifests():
        spec = doc.get("spec") or {}
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
        if not template or doc["metadata"]["name"] in ("meshwork-oauth2-proxy", "meshwork-volume-init"):
            continue
        refs = [e["configMapRef"]["name"] for e in template["spec"]["containers"][0]["envFrom"] if "configMapRef" in e]
        assert "meshwork-env" in refs, doc["metadata"]["name"]


def command_exists(words: list[str]) -> bool:
    group: click.Command | None = mesh_cli
    context = click.Context(mesh_cli)
    for word in words:
        if not isinstance(group, click.Group):
            return False
        group = group.get_command(context, word)
        if group is None:
            return False
    return True


def test_operator_commands_have_a_home_with_operator_credentials():
    toolbox = named("Deployment", "meshwork-toolbox")["spec"]["template"]["spec"]
    env_from = toolbox["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "meshwork-operator"}} in env_from
    assert not any(e.get("secretRef", {}).get("name", "").startswith("meshwork-domain-") for e in env_from)
    sources = backing(toolbox, mesh_home() / "sources" / "shop")
    assert sources and not sources[0].get("readOnly"), "mesh erase rewrites landing files"
    scheduled = {
        d["metadata"]["name"]: " ".join(
            d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
        )
        for d in manifests()
        if d["kind"] == "CronJob"
    }
    for words in (["catalog", "build"], ["notices", "redeliver"], ["lineage", "replay"]):
        assert any("mesh " + " ".join(words) in script for script in scheduled.values()), words
    runbook = (REPO / "docs/deployment.md").read_text(encoding="utf-8")
    commands = re.findall(r"deploy/meshwork-toolbox -- mesh ([a-z ]+?)(?: --| <|\s*$)", runbook, flags=re.M)
    assert {"access approve", "erase", "notices redeliver", "catalog build"} <= {c.strip() for c in commands}
    for command in commands:
        assert command_exists(command.split()), f"docs/deployment.md runs `mesh {command}`, which does not exist"
    assert not command_exists(["access", "aprove"])


def test_the_ui_is_reached_only_through_sign_in(values: dict[str, Any]):
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    assert not (values.get("ingress") or {}).get("enabled"), "the chart's own Ingress has no sign-in"
    ingresses = [d for d in manifests() if d["kind"] == "Ingress"]
    backends = {
        p["backend"]["service"]["name"] for i in ingresses for r in i["spec"]["rules"] for p in r["http"]["paths"]
    }
    assert backends == {"meshwork-oauth2-proxy"}
    assert all(i["spec"].get("tls") for i in ingresses)
    proxy = named("Deployment", "meshwork-oauth2-proxy")["spec"]["template"]["spec"]["containers"][0]
    port = values["dagsterWebserver"]["service"]["port"]
    assert f"--upstream=http://{RELEASE}-webserver.{NAMESPACE}.svc.cluster.local:{port}/" in proxy["args"]
    assert "--pass-access-token=false" in proxy["args"]
    policy = named("NetworkPolicy", "dagster-webserver-behind-sign-in")["spec"]
    assert policy["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/instance": RELEASE,
        "component": "dagster-webserver",
    }
    assert [peer["podSelector"]["matchLabels"] for rule in policy["ingress"] for peer in rule["from"]] == [
        {"app": "meshwork-oauth2-proxy"}
    ]


def test_every_location_and_run_uses_the_same_image_and_mesh_configuration(values: dict[str, Any]):
    images = {(d["image"]["repository"], d["image"]["tag"]) for d in deployments(values)}
    assert len(images) == 1
    for d in deployments(values):
        assert d["includeConfigInLaunchedRuns"]["enabled"], d["name"]
        assert [c["name"] for c in d["envConfigMaps"]] == ["meshwork-env"], d["name"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert [c["name"] for c in launcher["envConfigMaps"]] == ["meshwork-env"]
    assert not launcher["volumeMounts"] and not launcher["envSecrets"]
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlHost"]


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
    for package in ("dagster", "dagster-k8s"):
        dev = re.search(rf"^{package}==(\S+)", dev_lock, flags=re.M)
        assert dev and pinned.get(package) == dev.group(1), package
    for package in ("dagster-postgres", "dagster-k8s", "dagster-dbt", "dbt-duckdb", "duckdb"):
        assert package in pinned, f"{package} missing from deploy/requirements.lock"
    for dev_only in ("pytest", "ruff", "mypy", "moto", "kubernetes-validate"):
        assert dev_only not in pinned, f"{dev_only} is a development tool, not for the image"
    assert all("--hash=sha256:" in block for block in lock.split("\n\n") if "==" in block)
