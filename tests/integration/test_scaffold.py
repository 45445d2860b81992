"""`mesh new domain` and `mesh new product` make domains and products that pass `mesh check`, load in
Dagster and publish on the first build; every refused request writes nothing at all."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import yaml

from meshwork.authoring import changeset, scaffold
from meshwork.authoring.changeset import ScaffoldError
from tests.conftest import BIN, REPO, dagster_cli, mesh_cli, run

pytestmark = pytest.mark.slow


def env_for(project: Path) -> dict[str, str]:
    return {**os.environ, "MESH_PROJECT_DIR": str(project)}


def cli(project: Path, *args: str):
    return mesh_cli(*args, cwd=project, env=env_for(project))


def new(project: Path, *args: str) -> dict:
    result = cli(project, "new", *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def check(project: Path) -> tuple[int, dict]:
    result = cli(project, "check", "--json")
    return result.returncode, json.loads(result.stdout)


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file and folder under ``roots`` with a hash of its content."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for root in roots
        for p in sorted(root.rglob("*"))
        # Not DuckDB's spill folder nor the caches (ODCS validation, checksum markers): no user state.
        if not {"tmp", "cache"} & set(p.relative_to(root).parts[:1])
    }


def test_a_new_domain_passes_mesh_check_and_loads_as_a_code_location(project: Path):
    workspace_before = (project / "workspace.yaml").read_text()
    made = new(project, "domain", "logistics", "--owner", "logistics-team")
    assert "domains/logistics/definitions.py" in made["created"]
    # dbt_project.yml gets the domain's folder config with its first dbt model, not before (dbt would warn).
    assert set(made["updated"]) == {"workspace.yaml", "dbt_project/models/_groups.yml"}
    # The definitions file is the same three lines as every other domain's.
    assert (project / "domains/logistics/definitions.py").read_text() == (
        REPO / "domains/sales/definitions.py"
    ).read_text().replace('"sales"', '"logistics"')
    # workspace.yaml keeps its comments and entries in order: the new entry is only inserted.
    workspace = (project / "workspace.yaml").read_text()
    added = iter(workspace.splitlines())
    assert all(line in added for line in workspace_before.splitlines()), workspace
    assert "module_name: domains.logistics.definitions" in workspace
    code, report = check(project)
    assert code == 0 and report["ok"], report
    validated = dagster_cli("definitions", "validate", "-w", "workspace.yaml", cwd=project, env=env_for(project))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "Validation successful for code location logistics" in validated.stdout + validated.stderr


def test_new_dbt_and_python_products_reading_other_domains_ports_pass_check_and_publish(project: Path, mesh_home: Path):
    new(project, "domain", "logistics", "--owner", "logistics-team")
    dbt = new(
        project, "product", "logistics/shipments", "--kind", "aggregate", "--impl", "dbt", "--input", "sales/orders@v1"
    )
    assert "dbt_project/models/logistics/marts/shipments.sql" in dbt["created"]
    assert "dbt_project/dbt_project.yml" in dbt["updated"]
    dbt_config = yaml.safe_load((project / "dbt_project/dbt_project.yml").read_text())
    assert dbt_config["models"]["meshwork"]["logistics"]["+group"] == "logistics"
    python = new(
        project,
        "product",
        "logistics/ticket_load",
        "--kind",
        "consumer-aligned",
        "--impl",
        "python",
        "--input",
        "support/tickets@v1",
        "--input",
        "sales/orders",
    )
    assert "domains/logistics/products/ticket_load.py" in python["created"]
    code, report = check(project)
    assert code == 0 and report["ok"], report
    # The generated code is lint-clean and its generated tests pass.
    lint = run([str(BIN / "ruff"), "check", "--config", str(REPO / "pyproject.toml"), "domains", "tests"], cwd=project)
    assert lint.returncode == 0, lint.stdout
    tests = run([str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "tests/products"], project, env_for(project))
    assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout + tests.stderr

    built = cli(
        project, "build", "--orders", "300", *[f"--domain={d}" for d in ("customers", "sales", "support", "logistics")]
    )
    assert built.returncode == 0, built.stdout + built.stderr
    ports = {row["port"]: row for row in json.loads(cli(project, "ports", "list", "--json").stdout)}
    assert ports["logistics/shipments@v1"]["rows"] == ports["sales/orders@v1"]["rows"] == 300
    assert ports["logistics/ticket_load@v1"]["rows"] == ports["support/tickets@v1"]["rows"] > 0
    reads = [json.loads(line) for line in (mesh_home / "audit/audit.jsonl").read_text().splitlines()]
    pairs = {(r.get("consumer"), r.get("port")) for r in reads if r["action"] == "port.read"}
    assert {("logistics/shipments", "sales/orders@v1"), ("logistics/ticket_load", "support/tickets@v1")} <= pairs


def test_a_restricted_input_opens_an_access_request_and_passes_check_once_approved(project: Path):
    new(project, "domain", "logistics", "--owner", "logistics-team")
    made = new(
        project,
        "product",
        "logistics/addresses",
        "--kind",
        "consumer-aligned",
        "--impl",
        "dbt",
        "--input",
        "customers/customer_profiles@v1",
    )
    [request] = made["access_requests"]
    assert request["port"] == "customers/customer_profiles@v1" and request["status"] == "pending"
    assert any(request["id"] in step for step in made["next_steps"])
    # The starting contract leaves the producer's PII columns out.
    contract = (project / "domains/logistics/contracts/addresses.odcs.yaml").read_text()
    assert "name: customer_id" in contract and "name: email" not in contract
    code, report = check(project)
    pending = f"is restricted and access request {request['id']} (made by"
    assert code == 2 and any(pending in p and "is pending" in p for p in report["problems"])
    assert cli(project, "access", "approve", request["id"], "--by", "crm-lead").returncode == 0
    code, report = check(project)
    assert code == 0, report


REFUSALS = {
    "bad domain name": ["domain", "Logistics", "--owner", "team"],
    "existing domain": ["domain", "sales", "--owner", "team"],
    "reserved domain": ["domain", "sources", "--owner", "team"],
    "bad team": ["domain", "logistics", "--owner", "Team X"],
    "bad email": ["domain", "logistics", "--owner", "team", "--email", "nobody"],
    "product without domain": ["product", "shipments", "--kind", "aggregate", "--impl", "dbt"],
    "bad product name": ["product", "sales/Shipments", "--kind", "aggregate", "--impl", "dbt"],
    "keyword product name": ["product", "sales/class", "--kind", "aggregate", "--impl", "python"],
    "unknown domain": ["product", "nowhere/shipments", "--kind", "aggregate", "--impl", "dbt"],
    "existing product": ["product", "sales/orders", "--kind", "aggregate", "--impl", "dbt"],
    "name repeats domain": ["product", "sales/sales_totals", "--kind", "aggregate", "--impl", "dbt"],
    "unknown input": ["product", "finance/x", "--kind", "aggregate", "--impl", "dbt", "--input", "sales/nope@v1"],
    "unknown version": ["product", "finance/x", "--kind", "aggregate", "--impl", "dbt", "--input", "sales/orders@v9"],
    "bad input": ["product", "finance/x", "--kind", "aggregate", "--impl", "dbt", "--input", "sales.orders"],
    "input twice": ["product", "finance/x", "--kind", "aggregate", "--impl", "dbt", "--input", "sales/orders"]
    + ["--input", "sales/orders@v1"],
    "source on aggregate": ["product", "finance/x", "--kind", "aggregate", "--impl", "dbt", "--source", "a/b"],
    "unknown kind": ["product", "finance/x", "--kind", "mart", "--impl", "dbt"],
}

# What each refusal must say (the reason, not just that something went wrong).
REASONS = {
    "bad domain name": "'Logistics' is not a valid domain name",
    "existing domain": "domain 'sales' already exists",
    "reserved domain": "'sources' is reserved by the platform",
    "bad team": "'Team X' is not a valid team name",
    "bad email": "'nobody' is not an email address",
    "product without domain": "'shipments' is not a product: write it as <domain>/<name>",
    "bad product name": "'Shipments' is not a valid product name",
    "keyword product name": "'class' is a Python keyword",
    "unknown domain": "unknown domain 'nowhere'",
    "existing product": "product 'sales/orders' already exists",
    "name repeats domain": "the product name repeats its domain",
    "unknown input": "unknown input product 'sales/nope'",
    "unknown version": "'sales/orders' has no output port v9",
    "bad input": "'sales.orders' is not an input port",
    "input twice": "input 'sales/orders' is given twice",
    "source on aggregate": "--source is for source-aligned products",
    "unknown kind": "Invalid value for '--kind': 'mart'",
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_request_exits_2_with_the_reason_and_writes_nothing(project: Path, mesh_home: Path, case):
    before = snapshot(project, mesh_home)
    result = cli(project, "new", *REFUSALS[case])
    assert result.returncode == 2, result.stdout + result.stderr
    assert REASONS[case] in result.stderr, result.stderr
    assert snapshot(project, mesh_home) == before


def test_a_refusal_names_what_is_wrong(project: Path):
    unknown = cli(project, "new", "product", "finance/x", "--kind", "aggregate", "--impl", "dbt", "--input", "sales/x")
    assert "unknown input product 'sales/x'; 'sales' publishes order_lines, orders" in unknown.stderr
    version = cli(
        project, "new", "product", "finance/x", "--kind", "aggregate", "--impl", "dbt", "--input", "sales/orders@v2"
    )
    assert "'sales/orders' has no output port v2 (it publishes v1)" in version.stderr
    as_json = cli(project, "new", "domain", "sales", "--owner", "x", "--json")
    assert json.loads(as_json.stderr) == {"ok": False, "error": "domain 'sales' already exists (domains/sales/)"}


def test_a_change_that_fails_validation_writes_nothing(project: Path, mesh_home: Path, monkeypatch):
    before = snapshot(project, mesh_home)
    monkeypatch.setattr(scaffold.registration, "check_project", lambda *a, **k: lambda root: [f"{root}/x: broken"])
    with pytest.raises(ScaffoldError, match=f"nothing was written:\n  - {project}/x: broken"):
        scaffold.new_domain(project, "logistics", "logistics-team")
    assert snapshot(project, mesh_home) == before


def test_a_failure_while_writing_rolls_back_every_file_already_written(project: Path, mesh_home: Path, monkeypatch):
    before = snapshot(project, mesh_home)
    apply = changeset.Changeset.apply
    monkeypatch.setattr(changeset.Changeset, "apply", lambda self: apply(self, fail_after=6))
    with pytest.raises(OSError, match="injected failure"):
        scaffold.new_domain(project, "logistics", "logistics-team")
    assert snapshot(project, mesh_home) == before


@pytest.mark.parametrize(
    ("owner", "team", "email"),
    [("team:logistics", "logistics", "logistics@example.com"), ("ops@example.org", "ops", "ops@example.org")],
)
def test_a_domain_owner_in_dagsters_forms_is_accepted_and_shown_as_owners(project: Path, owner, team, email):
    new(project, "domain", "logistics", "--owner", owner)
    descriptor = yaml.safe_load((project / "domains/logistics/domain.yaml").read_text())
    assert descriptor["owner"]["team"] == team and descriptor["owner"]["email"] == email
    from meshwork.model.loader import load_mesh

    assert load_mesh(project).domains["logistics"].descriptor.owner.dagster_owners == [f"team:{team}", email]
