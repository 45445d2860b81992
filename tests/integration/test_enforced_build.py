"""The whole example mesh built in the enforced mode: control plane + moto S3 with IAM on + one
identity per domain. Every product publishes the rows it publishes in the local mode, every read
went through the service, and the consumers without PII clearance were handed the masked variant."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.enforced import MESH, control_plane

pytestmark = pytest.mark.timeout(1500)
DOMAINS = ("customers", "sales", "support", "finance", "marketing")


def build(env: dict[str, str]) -> dict:
    out = subprocess.run([MESH, "build", "--orders", "1000", "--json"], env=env, capture_output=True, text=True,
                         timeout=1200)  # fmt: skip
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return {"stdout": json.loads(out.stdout), "stderr": out.stderr}


def test_the_example_mesh_builds_in_enforced_mode_and_reads_what_it_reads_locally(tmp_path: Path, monkeypatch):
    local_env = {**os.environ, "MESH_HOME": str(tmp_path / "local"), "MESH_PROJECT_DIR": str(REPO),
                 "DAGSTER_HOME": str(tmp_path / "local" / "dagster")}  # fmt: skip
    local = build(local_env)
    assert "mode: local" in local["stderr"]
    home = tmp_path / "enforced"
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    with control_plane(tmp_path) as plane:
        for domain in DOMAINS:
            plane.issue("domain", domain)
        plane.issue("person", "root", "--role", "admin")
        env = {**plane.admin_env, "MESH_DOMAIN_CREDENTIALS_DIR": str(plane.credentials_dir)}
        enforced = build(env)
        assert "mode: enforced" in enforced["stderr"]

        def rows(result: dict) -> dict[str, int]:
            return {p["port"]: p["rows"] for p in result["stdout"]["ports"]}

        assert rows(enforced) == rows(local) and len(rows(local)) == 7
        audit = plane.call("person:root", "GET", "/v1/audit?limit=1000").json()
        reads = {(e["consumer"], e["port"]): e["masked"] for e in audit if e["action"] == "port.read"}
        assert reads[("sales/orders", "customers/customer_profiles@v1")] is True  # grant without pii
        assert reads[("support/tickets", "customers/customer_profiles@v1")] is True
        assert reads[("marketing/customer_360", "customers/customer_profiles@v1")] is False  # pii: true
        assert ("finance/daily_revenue", "sales/orders@v1") in reads
        # A product reading its own domain's port reads the snapshot its run staged (atomic domain publish):
        # the domain's own files, with its own keys, not a read the service vends or audits.
        assert ("marketing/customer_segments", "marketing/customer_360@v1") not in reads
        published = {e["port"] for e in audit if e["action"] == "port.publish"}
        assert published == set(rows(local))
        assert not [e for e in audit if e["action"].endswith(".refused")]
        verified = plane.call("person:root", "GET", "/v1/audit/verify").json()
        assert verified["intact"], verified["problems"]


def test_enforced_mode_refuses_to_build_without_a_credential_per_domain(tmp_path: Path):
    env = {**os.environ, "MESH_HOME": str(tmp_path / "h"), "MESH_SERVICE_URL": "http://127.0.0.1:9",
           "MESH_PROJECT_DIR": str(REPO), "DAGSTER_HOME": str(tmp_path / "h" / "dagster")}  # fmt: skip
    out = subprocess.run([MESH, "build", "--domain", "customers"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "MESH_DOMAIN_CREDENTIALS_DIR" in out.stderr
