"""A real dagster-webserver on 127.0.0.1 loads every domain location and the platform's, and lists every product."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from meshwork.model.loader import load_mesh
from meshwork.runtime.instance import ensure_local_instance
from tests.conftest import BIN, REPO

pytestmark = pytest.mark.slow

QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
  assetNodes {
    assetKey { path } groupName owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } } kinds
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    return graphql_vars(port, query, {})


def graphql_vars(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture
def webserver(mesh_home: Path, tmp_path: Path):
    ensure_local_instance()
    port = free_port()
    log = (tmp_path / "webserver.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "webserver.log").read_text()[-3000:]) from None
                time.sleep(1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_webserver_loads_every_domain_location_and_lists_every_product(webserver: int):
    deadline = time.monotonic() + 180
    while True:  # locations load asynchronously after the server answers
        data = graphql(webserver, QUERY)["data"]
        entries = data["workspaceOrError"]["locationEntries"]
        if all(e["loadStatus"] == "LOADED" for e in entries) or time.monotonic() > deadline:
            break
        time.sleep(2)
    by_name = {e["name"]: e for e in entries}
    assert set(by_name) == {"sales", "customers", "support", "finance", "marketing", "platform"}
    for name, entry in by_name.items():
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", (name, entry)
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    mesh = load_mesh(REPO)
    for key, product in mesh.products.items():
        assert key in nodes, f"{key} missing from the UI"
        assert nodes[key]["groupName"] == product.domain
        assert {"team": product.owner.team} in nodes[key]["owners"]
        assert product.owner.email and {"email": product.owner.email} in nodes[key]["owners"]  # shown as an owner too
        # The domain's contract gate and the platform location's runtime governance checks meet on one asset.
        checks = {c["name"] for c in nodes[key]["assetChecksOrError"]["checks"]}
        assert checks >= {"contract", "governance", "sla", "grants"}, (key, checks)
