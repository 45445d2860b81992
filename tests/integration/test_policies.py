"""Every policy fires: a mesh that violates it makes `mesh check` fail and name it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import mesh_cli

pytestmark = pytest.mark.slow


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def check(project: Path, home: Path) -> tuple[int, dict]:
    env = {**os.environ, "MESH_HOME": str(home), "MESH_PROJECT_DIR": str(project)}
    result = mesh_cli("check", "--json", cwd=project, env=env)
    return result.returncode, json.loads(result.stdout)


VIOLATIONS = {
    "ownership": (  # a team of its own, with no e-mail support channel
        "domains/support/products/tickets.yaml",
        "team: {name: support-ops}\nsupport:\n"
        "  - {channel: support-ops, url: 'mailto:support-ops@example.com', tool: email}\n",
        "team: {name: support-desk}\n",
        "support/tickets",
    ),
    "documentation": (
        "domains/support/products/tickets.yaml",
        "purpose: Every customer support ticket from the helpdesk, with its resolution time and rating.",
        "purpose: Tickets.",
        "support/tickets",
    ),
    "classification": (
        "domains/support/contracts/tickets.odcs.yaml",
        'classification: public, description: "What',
        'classification: secret, description: "What',
        "support/tickets",
    ),
    "pii-not-public": (
        "domains/customers/products/customer_profiles.yaml",
        "{property: visibility, value: restricted}",
        "{property: visibility, value: public}",
        "customers/customer_profiles",
    ),
    "pii-retention": (
        "domains/customers/products/customer_profiles.yaml",
        "  - {property: retention, value: 1095d}\n",
        "",
        "customers/customer_profiles",
    ),
    "ports-only": (
        "dbt_project/models/finance/marts/daily_revenue.sql",
        "select * from {{ source('port_sales', 'orders_v1') }}",
        "select * from {{ ref('orders') }}",
        "finance/daily_revenue",
    ),
    "naming": ("domains/support/contracts/tickets.odcs.yaml", "{name: closed_at,", "{name: closed,", "support/tickets"),
    "masking": (
        "domains/customers/contracts/customer_profiles.odcs.yaml",
        "{name: email, logicalType: string,",
        "{name: email, customProperties: [{property: masking, value: scramble}], logicalType: string,",
        "customers/customer_profiles",
    ),
    "money-is-decimal": (
        "domains/finance/contracts/daily_revenue.odcs.yaml",
        '{name: net_revenue, logicalType: number, physicalType: "DECIMAL(18,2)"',
        "{name: net_revenue, logicalType: number, physicalType: DOUBLE",
        "finance/daily_revenue",
    ),
}


def test_the_example_mesh_passes_every_policy(project: Path, mesh_home: Path):
    code, report = check(project, mesh_home)
    assert code == 0 and report["ok"], report
    ids = {p["id"] for p in report["policies"]}
    assert set(VIOLATIONS) <= ids
    assert {p["scope"] for p in report["policies"] if p["id"] == "money-is-decimal"} == {"finance"}


@pytest.mark.parametrize("policy_id", sorted(VIOLATIONS))
def test_each_policy_fails_mesh_check_naming_itself(policy_id: str, project: Path, mesh_home: Path):
    file, old, new, subject = VIOLATIONS[policy_id]
    edit(project / file, old, new)
    if policy_id == "money-is-decimal":  # keep the dbt model in line with the contract, so only the policy fires
        edit(
            project / "dbt_project/models/finance/marts/daily_revenue.yml",
            '{name: net_revenue, data_type: "decimal(18,2)"}',
            "{name: net_revenue, data_type: double}",
        )
        edit(
            project / "dbt_project/models/finance/marts/daily_revenue.sql",
            "as decimal(18, 2)) as net_revenue",
            "as double) as net_revenue",
        )
    code, report = check(project, mesh_home)
    assert report["problems"] == [], report["problems"]
    assert code == 1 and not report["ok"]
    fired = [v for v in report["violations"] if v["policy"] == policy_id]
    assert fired, report["violations"]
    assert any(v["subject"] == subject and v["severity"] == "error" for v in fired), fired
    assert all(v["owner"] != "?" for v in fired)


def test_a_domain_policy_file_with_errors_is_reported_not_crashed_on(project: Path, mesh_home: Path):
    (project / "domains/finance/policies.py").write_text("import nonexistent_module\n")
    code, report = check(project, mesh_home)
    assert code == 1
    assert any(v["policy"] == "policy-file" and v["domain"] == "finance" for v in report["violations"])


def test_the_text_report_is_grouped_by_domain_and_owner(project: Path, mesh_home: Path):
    edit(
        project / "domains/support/products/tickets.yaml",
        "purpose: Every customer support ticket from the helpdesk, with its resolution time and rating.",
        "purpose: Tickets.",
    )
    env = {**os.environ, "MESH_HOME": str(mesh_home), "MESH_PROJECT_DIR": str(project)}
    result = mesh_cli("check", cwd=project, env=env)
    assert result.returncode == 1
    assert "support (owner: support-ops)" in result.stdout
    assert "ERROR documentation: support/tickets: description.purpose" in result.stdout


def test_a_domain_violating_a_policy_fails_its_own_code_location_at_load(project: Path, mesh_home: Path):
    from tests.conftest import dagster_cli

    env = {**os.environ, "MESH_HOME": str(mesh_home), "MESH_PROJECT_DIR": str(project)}
    edit(
        project / "domains/support/products/tickets.yaml",
        "purpose: Every customer support ticket from the helpdesk, with its resolution time and rating.",
        "purpose: Tickets.",
    )
    support = dagster_cli("definitions", "validate", "-m", "domains.support.definitions", cwd=project, env=env)
    assert support.returncode != 0
    assert "policy 'documentation' is violated" in support.stdout + support.stderr
    # Other domains are not held hostage by support's violation.
    sales = dagster_cli("definitions", "validate", "-m", "domains.sales.definitions", cwd=project, env=env)
    assert sales.returncode == 0, sales.stdout + sales.stderr
