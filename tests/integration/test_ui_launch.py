"""Launch work the way the Dagster UI does, against a real dagster-webserver (GraphQL) and daemon.

Each test sends the mutation and the selection the UI's button builds (from the UI's own code:
`executionParamsForAssetJob`, `ExecuteChecksButton`, `useJobReexecution`, the schedule dialog's "Launch
all"), and the run must be accepted and succeed:

- "Materialize" on a product page: the asset plus every check shown on it that belongs to the job
  (`__ASSET_JOB`). Before the runtime checks moved into the domains' locations this failed with
  DagsterInvalidSubsetError;
- "Materialize all" on a domain's group, "Execute all" checks of a product (checks only), "Materialize
  all" on a domain's build job page;
- "Re-execute" of a run from `mesh build` (the fixture's mesh is built by `mesh build`), after checking
  that such runs are listed on their job's page and timeline with the job's current snapshot;
- a schedule's tick as "Test schedule" → "Launch all" evaluates and launches it (the daemon's cron tick
  is not waited for: the example's crons are daily);
- a run that the daemon's automation sensor starts by itself when an upstream domain publishes.

One webserver and one daemon serve the whole module: starting them costs most of a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO
from tests.integration.test_webserver import free_port, graphql, graphql_vars

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPOSITORY = "__repository__"  # the repository of a location built from one Definitions
NODE = """
  assetKey { path } jobNames repository { name location { name } }
  assetChecksOrError { ... on AssetChecks { checks { name jobNames canExecuteIndividually } } }
"""
CHECKS_OF = "query ($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode { NODE } } }"
CHECKS_OF = CHECKS_OF.replace("NODE", NODE)
GROUP = "query ($group: AssetGroupSelector!) { assetNodes(group: $group) { NODE } }".replace("NODE", NODE)
LAUNCH = """
mutation ($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
REEXECUTE = """
mutation ($params: ReexecutionParams!) {
  launchPipelineReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConflict { message }
  }
}
"""
RUN = """
query ($id: ID!) { runOrError(runId: $id) { ... on Run {
  status parentRunId tags { key value }
  repositoryOrigin { repositoryLocationName repositoryName }
  assetSelection { path } assetCheckSelection { assetKey { path } name }
} } }
"""
STATUS = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
JOB_RUNS = """
query ($location: String!, $job: String!) {
  pipelineOrError(params: {repositoryLocationName: $location, repositoryName: "__repository__", pipelineName: $job}) {
    __typename
    ... on Pipeline {
      pipelineSnapshotId
      runs { runId pipelineSnapshotId tags { key value } repositoryOrigin { repositoryLocationName repositoryName } }
    }
  }
}
"""
# What the overview timeline asks for; it leaves out every run whose repositoryOrigin is null.
TIMELINE = """
query ($after: Float!) {
  runsOrError(filter: {updatedAfter: $after}) {
    ... on Runs { results { runId pipelineName tags { key value } repositoryOrigin { repositoryLocationName } } }
  }
}
"""
SCHEDULE_DRY_RUN = """
mutation ($selector: ScheduleSelector!, $timestamp: Float!) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
    __typename
    ... on DryRunInstigationTick { evaluationResult {
      skipReason error { message }
      runRequests {
        runConfigYaml jobName tags { key value } assetSelection { path } assetChecks { assetKey { path } name }
      }
    } }
    ... on PythonError { message }
  }
}
"""
SCHEDULE_JOB = """
query ($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) { ... on Schedule { pipelineName } }
}
"""
ALL_RUNS = "{ runsOrError { ... on Runs { results { runId status } } } }"

SENSOR_RUNS = """
query ($sensor: String!) {
  runsOrError(filter: {tags: [{key: "dagster/sensor_name", value: $sensor}]}) {
    ... on Runs { results { runId status assetSelection { path } tags { key value } } }
  }
}
"""


@pytest.fixture(scope="module")
def ui(built_mesh: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp_path = tmp_path_factory.mktemp("ui")
    home = tmp_path / "home"
    shutil.copytree(built_mesh, home, ignore=shutil.ignore_patterns("lineage", "catalog"))
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "MESH_PROJECT_DIR": str(REPO)}
    port = free_port()
    procs = [
        subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=(tmp_path / "web.log").open("w"), stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO, env=env, stdout=(tmp_path / "daemon.log").open("w"), stderr=subprocess.STDOUT,
        ),
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:  # the server answers before its locations have loaded
            try:
                node = graphql_vars(port, CHECKS_OF, {"path": ["sales", "orders"]})["data"]["assetNodeOrError"]
                if node and node.get("assetChecksOrError", {}).get("checks"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError((tmp_path / "web.log").read_text()[-3000:])
            assert all(p.poll() is None for p in procs), (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(2)
        yield port
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


def check_inputs(nodes: list[dict], job: str) -> list[dict]:
    """The UI's getAssetCheckHandleInputs: every check shown on the assets whose jobs include ``job``."""
    return [
        {"assetKey": {"path": n["assetKey"]["path"]}, "name": c["name"]}
        for n in nodes
        for c in n["assetChecksOrError"]["checks"]
        if not c["jobNames"] or job in c["jobNames"]
    ]


def asset_job_params(nodes: list[dict], job: str) -> dict:
    """The UI's executionParamsForAssetJob (Materialize, Materialize all)."""
    repository = nodes[0]["repository"]
    selector = {
        "repositoryLocationName": repository["location"]["name"],
        "repositoryName": repository["name"],
        "pipelineName": job,
        "assetSelection": [{"path": n["assetKey"]["path"]} for n in nodes],
        "assetCheckSelection": check_inputs(nodes, job),
    }
    return {"mode": "default", "executionMetadata": {"tags": []}, "runConfigData": "{}", "selector": selector}


def launch(port: int, params: dict) -> str:
    result = graphql_vars(port, LAUNCH, {"params": params})["data"]["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def materialize_like_the_ui(port: int, path: list[str]) -> dict:
    node = graphql_vars(port, CHECKS_OF, {"path": path})["data"]["assetNodeOrError"]
    job = "__ASSET_JOB"
    assert job in node["jobNames"]
    params = asset_job_params([node], job)
    result = graphql_vars(port, LAUNCH, {"params": params})["data"]["launchPipelineExecution"]
    return {"result": result, "checks": [c["name"] for c in params["selector"]["assetCheckSelection"]]}


def wait_for(port: int, run_id: str) -> str:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = graphql_vars(port, STATUS, {"id": run_id})["data"]["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(2)
    raise TimeoutError(f"run {run_id} did not finish")


def run_of(port: int, run_id: str) -> dict:
    return graphql_vars(port, RUN, {"id": run_id})["data"]["runOrError"]


def tags_of(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


# First in the module, and it waits until no run is in flight: Dagster's eager() counts any
# materialization of customer_360 as handling its upstream's update, so a marketing run that started
# before customers publishes and ends after it absorbs the update and the sensor starts nothing (seen
# twice on 2026-12-03 after the other launch tests). docs/operations.md states this limit.
def test_the_automation_sensor_starts_the_downstream_domain_when_upstream_publishes(ui: int):
    """The daemon, not this test, launches it: customer_360 is eager on customers' published port."""
    sensor = "marketing_automation"
    deadline = time.monotonic() + 300
    while True:
        every = graphql(ui, ALL_RUNS)["data"]["runsOrError"]["results"]
        if all(r["status"] in {"SUCCESS", "FAILURE", "CANCELED"} for r in every):
            break
        if time.monotonic() > deadline:  # a wait guard, not a timed assertion
            raise TimeoutError(f"earlier runs still in flight after 5 minutes: {every}")
        time.sleep(3)
    runs = graphql_vars(ui, SENSOR_RUNS, {"sensor": sensor})["data"]["runsOrError"]["results"]
    before = {r["runId"] for r in runs}
    launched = materialize_like_the_ui(ui, ["customers", "customer_profiles"])
    assert wait_for(ui, launched["result"]["run"]["runId"]) == "SUCCESS"
    deadline = time.monotonic() + 300
    while True:
        runs = graphql_vars(ui, SENSOR_RUNS, {"sensor": sensor})["data"]["runsOrError"]["results"]
        new = [r for r in runs if r["runId"] not in before]
        if new:
            break
        if time.monotonic() > deadline:  # a wait guard, not a timed assertion
            raise TimeoutError("the daemon's automation sensor started no run within 5 minutes")
        time.sleep(3)
    run_id = new[-1]["runId"]
    assert wait_for(ui, run_id) == "SUCCESS"
    run = run_of(ui, run_id)
    assert ["marketing", "customer_360"] in [a["path"] for a in run["assetSelection"]]
    assert tags_of(run)["meshwork/domain"] == "marketing"
    assert run["repositoryOrigin"]["repositoryLocationName"] == "marketing"


@pytest.mark.parametrize("path", [["sales", "orders"], ["customers", "customer_profiles"]])
def test_materialize_on_a_product_page_is_accepted_and_succeeds(ui: int, path: list[str]):
    launched = materialize_like_the_ui(ui, path)
    assert {"contract", "governance", "sla", "grants"} <= set(launched["checks"])
    assert launched["result"]["__typename"] == "LaunchRunSuccess", launched["result"]
    assert wait_for(ui, launched["result"]["run"]["runId"]) == "SUCCESS"


def test_materialize_all_in_a_domains_group_succeeds(ui: int):
    group = {"groupName": "sales", "repositoryLocationName": "sales", "repositoryName": REPOSITORY}
    nodes = graphql_vars(ui, GROUP, {"group": group})["data"]["assetNodes"]
    group_keys = sorted(n["assetKey"]["path"] for n in nodes)  # the products and their dbt staging models
    assert [k for k in group_keys if not k[1].startswith("stg_")] == [["sales", "order_lines"], ["sales", "orders"]]
    run_id = launch(ui, asset_job_params(nodes, "__ASSET_JOB"))
    assert wait_for(ui, run_id) == "SUCCESS"
    run = run_of(ui, run_id)
    assert sorted(a["path"] for a in run["assetSelection"]) == group_keys
    assert len(run["assetCheckSelection"]) == len(check_inputs(nodes, "__ASSET_JOB")) >= 8


def test_executing_only_a_products_checks_succeeds(ui: int):
    """The checks tab's "Execute all": no asset, every check that can run on its own, in their common job."""
    node = graphql_vars(ui, CHECKS_OF, {"path": ["sales", "orders"]})["data"]["assetNodeOrError"]
    checks = node["assetChecksOrError"]["checks"]
    common = [j for j in checks[0]["jobNames"] if all(j in c["jobNames"] for c in checks)]
    launchable = [c["name"] for c in checks if c["canExecuteIndividually"] == "CAN_EXECUTE"]
    assert common and {"sla", "grants", "governance"} <= set(launchable), checks
    selector = {
        "repositoryLocationName": "sales",
        "repositoryName": REPOSITORY,
        "jobName": common[0],
        "assetSelection": [],
        "assetCheckSelection": [{"assetKey": {"path": ["sales", "orders"]}, "name": n} for n in launchable],
    }
    run_id = launch(ui, {"mode": "default", "executionMetadata": {}, "runConfigData": "{}", "selector": selector})
    assert wait_for(ui, run_id) == "SUCCESS"
    run = run_of(ui, run_id)
    assert not run["assetSelection"] and {c["name"] for c in run["assetCheckSelection"]} == set(launchable)


def mesh_build_run(port: int, domain: str) -> dict:
    """The run `mesh build` made of the domain's build job, as the job's page lists it."""
    job = graphql_vars(port, JOB_RUNS, {"location": domain, "job": f"{domain}_build"})["data"]["pipelineOrError"]
    assert job["__typename"] == "Pipeline", job
    built = [r for r in job["runs"] if "meshwork/build" in tags_of(r)]
    assert built, f"the {domain}_build page lists no run of mesh build: {job['runs']}"
    return {**built[-1], "jobSnapshotId": job["pipelineSnapshotId"]}


@pytest.mark.parametrize("domain", ["sales", "customers", "support", "finance", "marketing"])
def test_a_mesh_build_run_is_listed_on_its_jobs_page_with_the_jobs_snapshot(ui: int, domain: str):
    run = mesh_build_run(ui, domain)
    assert run["repositoryOrigin"] == {"repositoryLocationName": domain, "repositoryName": REPOSITORY}
    # Origin and snapshot both match: the UI re-executes it without a warning ("origin-and-snapshot").
    assert run["pipelineSnapshotId"] == run["jobSnapshotId"]
    assert tags_of(run)["meshwork/domain"] == domain


def test_the_timeline_shows_every_run_of_mesh_build(ui: int):
    runs = graphql_vars(ui, TIMELINE, {"after": 0})["data"]["runsOrError"]["results"]
    built = [r for r in runs if "meshwork/build" in tags_of(r)]
    assert {r["pipelineName"] for r in built} == {
        f"{d}_build" for d in ("sales", "customers", "support", "finance", "marketing")
    }
    assert all(r["repositoryOrigin"] for r in built), [r for r in built if not r["repositoryOrigin"]]


def test_a_mesh_build_run_re_executes_from_the_ui(ui: int):
    parent = mesh_build_run(ui, "customers")
    params = {
        "parentRunId": parent["runId"],
        "strategy": "ALL_STEPS",
        "extraTags": [{"key": "dagster/from_ui", "value": "true"}],
    }
    result = graphql_vars(ui, REEXECUTE, {"params": params})["data"]["launchPipelineReexecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["runId"]
    assert wait_for(ui, run_id) == "SUCCESS"
    run = run_of(ui, run_id)
    assert run["parentRunId"] == parent["runId"]
    assert run["repositoryOrigin"] == {"repositoryLocationName": "customers", "repositoryName": REPOSITORY}
    assert tags_of(run)["meshwork/domain"] == "customers"


def test_materialize_all_on_a_domains_job_page_succeeds(ui: int):
    """The build job's page: every asset of the job with its checks in that job (executionParamsForAssetJob)."""
    job = "support_build"
    group = {"groupName": "support", "repositoryLocationName": "support", "repositoryName": REPOSITORY}
    nodes = [n for n in graphql_vars(ui, GROUP, {"group": group})["data"]["assetNodes"] if job in n["jobNames"]]
    assert nodes
    run_id = launch(ui, asset_job_params(nodes, job))
    assert wait_for(ui, run_id) == "SUCCESS"
    run = run_of(ui, run_id)
    assert tags_of(run)["meshwork/domain"] == "support"  # the job's tag: the run queue's per-domain limit
    assert run["repositoryOrigin"]["repositoryLocationName"] == "support"


def test_a_schedule_tick_evaluated_and_launched_as_the_ui_does_succeeds(ui: int):
    """ "Test schedule" evaluates the tick in the location's code server, "Launch all" launches its requests."""
    selector = {"repositoryLocationName": "sales", "repositoryName": REPOSITORY, "scheduleName": "sales_ingest"}
    tick = graphql_vars(ui, SCHEDULE_DRY_RUN, {"selector": selector, "timestamp": time.time()})["data"][
        "scheduleDryRun"
    ]
    assert tick["__typename"] == "DryRunInstigationTick", tick
    [request] = tick["evaluationResult"]["runRequests"]
    # The dialog falls back to the schedule's own job (an asset selection's anonymous job) without a jobName.
    schedule = graphql_vars(ui, SCHEDULE_JOB, {"selector": selector})["data"]["scheduleOrError"]
    selection = {
        "repositoryLocationName": "sales",
        "repositoryName": REPOSITORY,
        "jobName": request["jobName"] or schedule["pipelineName"],
        "assetSelection": [{"path": a["path"]} for a in request["assetSelection"] or []],
        "assetCheckSelection": [
            {"assetKey": {"path": c["assetKey"]["path"]}, "name": c["name"]} for c in request["assetChecks"] or []
        ],
    }
    tags = [{"key": t["key"], "value": t["value"]} for t in request["tags"]]
    params = {
        "runConfigData": request["runConfigYaml"],
        "selector": selection,
        "mode": "default",
        "executionMetadata": {"tags": tags},
    }
    run_id = launch(ui, params)
    assert wait_for(ui, run_id) == "SUCCESS"
    run = run_of(ui, run_id)
    assert tags_of(run)["meshwork/domain"] == "sales"  # the schedule's tag, copied onto its runs
    assert tags_of(run)["dagster/schedule_name"] == "sales_ingest"
    assert run["repositoryOrigin"]["repositoryLocationName"] == "sales"
