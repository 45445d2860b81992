"""Launch work the way the Dagster UI does, against a real dagster-webserver (GraphQL) and daemon.

"Materialize" on a product page sends the asset plus every check the UI shows on it that belongs to
the job (`__ASSET_JOB`): the launch must be accepted and the run must succeed. Before the runtime
checks moved into the domains' locations, this failed with DagsterInvalidSubsetError.
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
from tests.integration.test_webserver import free_port, graphql_vars

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CHECKS_OF = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      jobNames
      repository { name location { name } }
      assetChecksOrError { ... on AssetChecks { checks { name jobNames } } }
    }
  }
}
"""
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
STATUS = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


@pytest.fixture
def ui(built_mesh: Path, tmp_path: Path) -> Iterator[int]:
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


def materialize_like_the_ui(port: int, path: list[str]) -> dict:
    node = graphql_vars(port, CHECKS_OF, {"path": path})["data"]["assetNodeOrError"]
    job = "__ASSET_JOB"
    assert job in node["jobNames"]
    # What the UI adds: every check shown on the asset whose jobs include the chosen job.
    checks = [c["name"] for c in node["assetChecksOrError"]["checks"] if job in c["jobNames"]]
    selector = {
        "repositoryLocationName": node["repository"]["location"]["name"],
        "repositoryName": node["repository"]["name"],
        "jobName": job,
        "assetSelection": [{"path": path}],
        "assetCheckSelection": [{"assetKey": {"path": path}, "name": name} for name in checks],
    }
    params = {"selector": selector, "mode": "default", "executionMetadata": {"tags": []}}
    result = graphql_vars(port, LAUNCH, {"params": params})["data"]["launchPipelineExecution"]
    return {"result": result, "checks": checks}


def wait_for(port: int, run_id: str) -> str:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = graphql_vars(port, STATUS, {"id": run_id})["data"]["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(2)
    raise TimeoutError(f"run {run_id} did not finish")


@pytest.mark.parametrize("path", [["sales", "orders"], ["customers", "customer_profiles"]])
def test_materialize_on_a_product_page_is_accepted_and_succeeds(ui: int, path: list[str]):
    launched = materialize_like_the_ui(ui, path)
    assert {"contract", "governance", "sla", "grants"} <= set(launched["checks"])
    assert launched["result"]["__typename"] == "LaunchRunSuccess", launched["result"]
    assert wait_for(ui, launched["result"]["run"]["runId"]) == "SUCCESS"
