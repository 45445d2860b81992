"""Contract versions: breaking changes need a new major, majors are published side by side, pinned
consumers keep working, and deprecated or removed versions are flagged at load."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from meshwork.core.errors import MeshDefinitionError
from meshwork.model.loader import load_mesh
from meshwork.storage import snapshots
from tests.conftest import mesh_cli

pytestmark = pytest.mark.slow

V1 = "domains/customers/contracts/customer_profiles.odcs.yaml"
V2 = "domains/customers/contracts/customer_profiles.v2.odcs.yaml"
DESCRIPTOR = "domains/customers/products/customer_profiles.yaml"
# An output port of customers/customer_profiles in its descriptor (ODPS), up to its custom properties.
PORT = (
    "  - name: customer_profiles\n    version: {}\n    contractId: customers.customer_profiles\n    customProperties:\n"
)


def env_for(project: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_PROJECT_DIR": str(project),
    }


def introduce_v2(project: Path) -> None:
    """customers/customer_profiles 2.0.0 renames email to email_address; v1 stays, mapped and deprecated."""
    v1 = (project / V1).read_text()
    (project / V2).write_text(
        v1.replace("version: 1.0.0", "version: 2.0.0").replace("{name: email,", "{name: email_address,")
    )
    descriptor = project / DESCRIPTOR
    descriptor.write_text(
        descriptor.read_text().replace(
            f"outputPorts:\n{PORT.format('v1')}",
            "outputPorts:\n"
            f"{PORT.format('v2')}"
            "      - {property: visibility, value: restricted}\n"  # it holds PII (policy pii-not-public)
            f"{PORT.format('v1')}"
            "      - {property: columns, value: {email: email_address}}\n"
            "      - {property: deprecatedAfter, value: 2026-01-01}\n"
            "      - {property: removedAfter, value: 2099-01-01}\n",  # v1 keeps its visibility and grants
        )
    )
    code = project / "domains/customers/products/customer_profiles.py"
    text = code.read_text()
    assert "lower(trim(email)) AS email," in text and "                email, last_name," in text
    code.write_text(
        text.replace("lower(trim(email)) AS email,", "lower(trim(email)) AS email_address,").replace(
            "                email, last_name,",
            "                email_address, last_name,",  # de-duplication order
        )
    )


def diff(project: Path, env: dict[str, str]) -> tuple[int, dict]:
    result = mesh_cli("contracts", "diff", "--json", cwd=project, env=env)
    return result.returncode, json.loads(result.stdout)


def test_breaking_change_without_major_bump_fails_the_diff_and_names_the_consumers(project: Path, mesh_home: Path):
    env = env_for(project, mesh_home)
    assert mesh_cli("build", "--orders", "300", "--domain", "customers", cwd=project, env=env).returncode == 0
    code, report = diff(project, env)
    assert code == 0
    assert {p["port"]: p["verdict"] for p in report["ports"]}["customers/customer_profiles@v1"] == "unchanged"

    contract = project / V1
    contract.write_text(
        contract.read_text()
        .replace(
            "{name: email, logicalType: string, physicalType: VARCHAR, required: true, unique: true,",
            "{name: email, logicalType: string, physicalType: VARCHAR,",
        )
        .replace("version: 1.0.0", "version: 1.1.0")
    )
    code, report = diff(project, env)
    port = {p["port"]: p for p in report["ports"]}["customers/customer_profiles@v1"]
    assert code == 1 and not report["ok"] and port["blocked"]
    assert port["consumers"] == ["marketing/customer_360", "sales/orders", "support/tickets"]
    kinds = {(c["kind"], c["breaking"]) for c in port["changes"]}
    assert ("guarantee dropped", True) in kinds
    text = mesh_cli("contracts", "diff", cwd=project, env=env)
    assert "BREAKING guarantee dropped: no longer guaranteed: 'email' is never empty" in text.stdout
    assert "marketing/customer_360" in text.stdout and "new major version" in text.stderr


def test_a_new_major_is_published_beside_the_old_one_and_the_pinned_consumer_keeps_working(
    project: Path, mesh_home: Path
):
    env = env_for(project, mesh_home)
    introduce_v2(project)
    result = mesh_cli("build", "--orders", "300", cwd=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    v1 = snapshots.read_manifest(
        "customers", "customer_profiles", 1, snapshots.latest_snapshot("customers", "customer_profiles", 1)
    )
    v2 = snapshots.read_manifest(
        "customers", "customer_profiles", 2, snapshots.latest_snapshot("customers", "customer_profiles", 2)
    )
    assert "email" in [c.name for c in v1.columns] and "email_address" not in [c.name for c in v1.columns]
    assert "email_address" in [c.name for c in v2.columns]
    assert v1.row_count == v2.row_count > 0
    # marketing still pins v1 and was rebuilt from it.
    reads = [json.loads(line) for line in (mesh_home / "audit/audit.jsonl").read_text().splitlines()]
    assert any(
        r.get("consumer") == "marketing/customer_360" and r.get("port") == "customers/customer_profiles@v1"
        for r in reads
    )
    assert snapshots.latest_snapshot("marketing", "customer_360", 1)
    code, report = diff(project, env)
    verdicts = {p["port"]: p["verdict"] for p in report["ports"]}
    assert code == 0 and verdicts["customers/customer_profiles@v2"] == "unchanged"


def test_consumers_of_a_deprecated_version_are_warned_and_of_a_removed_one_fail_to_load(project: Path):
    introduce_v2(project)
    mesh = load_mesh(project, today=date(2026, 6, 1))
    warnings = mesh.warnings()
    assert sorted(w.product for w in warnings) == ["marketing/customer_360", "sales/orders", "support/tickets"]
    assert all("deprecated since 2026-01-01 and will be removed after 2099-01-01" in str(w) for w in warnings)
    assert load_mesh(project, today=date(2025, 6, 1)).warnings() == []
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project, today=date(2099, 6, 1))
    assert any(
        p.product == "sales/orders" and "was removed after 2099-01-01" in p.reason and "v2" in p.reason
        for p in exc.value.problems
    )


def test_the_sla_check_covers_live_majors_only(project: Path, mesh_home: Path):
    from datetime import UTC, datetime

    from meshwork.runtime.governance_checks import sla_evaluations

    introduce_v2(project)
    mesh = load_mesh(project)

    def breaching(now: datetime) -> list[str]:
        [ev] = [e for e in sla_evaluations(mesh, now) if e.product == "customers/customer_profiles"]
        return ev.findings

    # Nothing is published in this fresh MESH_HOME: both majors are live and both breach …
    assert [f.split(" ")[0] for f in breaching(datetime(2098, 6, 1, tzinfo=UTC))] == [
        "customers/customer_profiles@v2",
        "customers/customer_profiles@v1",
    ]
    # … and once v1 is past its removal date, only v2 can breach: a dead version opens nothing.
    assert [f.split(" ")[0] for f in breaching(datetime(2099, 6, 1, tzinfo=UTC))] == ["customers/customer_profiles@v2"]
