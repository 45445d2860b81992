"""Blast radius: a broken descriptor, contract or grant holds back its own domain and the consumers that
need it, never unrelated domains, the platform location or the read-only operator commands."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pytest
import time_machine

from meshwork.core.errors import MeshDefinitionError
from meshwork.governance import access, notify
from meshwork.governance.validation import validate_project
from meshwork.locations import governance_sensors
from meshwork.locations.domain import domain_definitions
from meshwork.model.loader import load_mesh
from meshwork.runtime import governance_checks
from tests.conftest import dagster_cli, mesh_cli
from tests.integration.test_contract_versions import introduce_v2

pytestmark = pytest.mark.slow

ORDERS = "domains/sales/products/orders.yaml"
PROFILES = "domains/customers/products/customer_profiles.yaml"
PORT = "customers/customer_profiles@v1"
CONSUMER = "marketing/customer_360"


def cli(project: Path, *args: str):
    return mesh_cli(*args, cwd=project, env={**os.environ, "MESH_PROJECT_DIR": str(project)})


def typo(project: Path) -> None:
    """The finding: a YAML typo in sales/orders' descriptor (an unclosed flow sequence)."""
    path = project / ORDERS
    path.write_text(path.read_text().replace("status: active\n", "status: active\n  oops: [\n"))


@pytest.fixture
def broken(project: Path) -> Path:
    typo(project)
    return project


def test_a_yaml_typo_holds_back_its_domain_and_the_consumers_that_need_it_only(broken: Path):
    mesh = load_mesh(broken, strict=False)
    assert set(mesh.broken) == {"sales", "finance", "marketing"}  # finance and marketing read sales/orders
    assert "customers/customer_profiles" in mesh.products and "support/tickets" in mesh.products
    assert "sales/orders" not in mesh.products and mesh.unloaded_products() == ["sales/orders"]
    (own,) = [p for p in mesh.broken["sales"] if p.product == "sales/orders"]
    assert str(own.file).endswith(ORDERS) and "not valid YAML" in own.reason
    (finance,) = mesh.broken["finance"]
    assert finance.product == "finance/daily_revenue" and finance.field == "inputPorts.0"
    assert "input 'sales/orders@v1' does not load" in finance.reason and ORDERS in finance.reason
    assert mesh.buildable() == (
        ["customers", "support"],
        {
            "sales": "2 problem(s) in its definition",
            "finance": "1 problem(s) in its definition",
            "marketing": "1 problem(s) in its definition",
        },
    )
    # The strict load (`mesh check`, authoring) still refuses the whole mesh with every problem.
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(broken)
    assert exc.value.problems == mesh.problems and len(exc.value.problems) == 4


def test_unrelated_code_locations_and_the_platform_location_still_load(broken: Path, mesh_home: Path):
    env = {**os.environ, "MESH_PROJECT_DIR": str(broken)}
    result = dagster_cli("definitions", "validate", "-w", "workspace.yaml", cwd=broken, env=env)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    for location in ("customers", "support", "platform"):
        assert f"Validation successful for code location {location}" in out, out[-3000:]
    for location in ("sales", "finance", "marketing"):
        assert f"Validation failed for code location {location}" in out
    assert "domain 'sales' has 2 problem(s)" in out and "not valid YAML" in out


def test_read_only_commands_keep_working_and_say_what_is_broken(broken: Path):
    for args in (["ports", "list", "--json"], ["ports", "verify", "--json"]):
        result = cli(broken, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "3 domain(s) broken (finance, marketing, sales)" in result.stderr and ORDERS in result.stderr
    # lineage says only what concerns the product asked about; a product of a broken domain still shows.
    assert cli(broken, "lineage", "customers/customer_profiles").stderr == ""
    shown = cli(broken, "lineage", "finance/daily_revenue")
    assert shown.returncode == 0 and "1 domain(s) broken (finance)" in shown.stderr
    ports = json.loads(cli(broken, "ports", "list", "--json").stdout)
    assert {p["port"]: p["broken"] for p in ports}["customers/customer_profiles@v1"] is False
    assert {p["port"]: p["broken"] for p in ports}["finance/daily_revenue@v1"] is True
    catalog = cli(broken, "catalog", "build", "--json")
    assert catalog.returncode == 0, catalog.stderr
    export = json.loads(Path(json.loads(catalog.stdout)["export"]).read_text())
    assert set(export["broken"]) == {"sales", "finance", "marketing"}
    assert any("not valid YAML" in p for p in export["problems"])
    assert "not loading" in Path(json.loads(catalog.stdout)["index"]).read_text()
    for args in (["audit", "verify"], ["notices", "list"]):  # they never needed the mesh
        assert cli(broken, *args).returncode == 0
    # Asked about the broken product itself: exit 2 with its problem.
    asked = cli(broken, "lineage", "sales/orders")
    assert asked.returncode == 2 and "sales/orders does not load" in asked.stderr and "not valid YAML" in asked.stderr
    check = cli(broken, "check")
    assert check.returncode == 2 and "not valid YAML" in check.stderr


def test_a_build_of_an_unrelated_domain_succeeds_and_of_a_broken_one_exits_2(broken: Path, mesh_home: Path):
    env = {**os.environ, "MESH_PROJECT_DIR": str(broken)}
    ok = mesh_cli("build", "--orders", "200", "--domain", "customers", cwd=broken, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = mesh_cli("build", "--domain", "finance", cwd=broken, env=env)
    assert refused.returncode == 2
    assert "nothing to build: finance: 1 problem(s) in its definition" in refused.stderr
    assert "input 'sales/orders@v1' does not load" in refused.stderr
    assert not (mesh_home / "warehouses" / "finance").exists()  # nothing ran


def test_a_page_of_a_product_that_does_not_load_stays_in_the_catalog(project: Path, mesh_home: Path):
    assert cli(project, "catalog", "build").returncode == 0
    page = mesh_home / "catalog" / "sales" / "orders.html"
    assert page.is_file()
    typo(project)
    assert cli(project, "catalog", "build").returncode == 0
    assert page.is_file()


# -- grants -------------------------------------------------------------------------------------------


@pytest.fixture
def ungranted(project: Path) -> Path:
    """marketing/customer_360 without its descriptor grant on the customer profiles."""
    path = project / PROFILES
    path.write_text(
        path.read_text().replace(
            "      - consumer: marketing/customer_360\n", "      - consumer: marketing/customer_segments\n"
        )
    )
    return project


def grant_problem(project: Path) -> str:
    mesh = load_mesh(project, strict=False)
    assert set(mesh.broken) == {"marketing"}, mesh.broken  # finance, sales… are not held back
    (problem,) = mesh.broken["marketing"]
    assert problem.product == CONSUMER
    return problem.reason


def test_a_missing_grant_holds_back_the_consumer_only_and_says_who_decides(ungranted: Path):
    reason = grant_problem(ungranted)
    assert "it has no grant and no access request" in reason
    assert f"`mesh access request {CONSUMER} {PORT} --reason …`" in reason
    assert "the owners of customers/customer_profiles (team crm-data, crm-data@example.com)" in reason
    mesh = load_mesh(ungranted, strict=False)
    assert mesh.buildable(["finance"]) == (["finance"], {})
    assert domain_definitions("support", mesh).resolve_all_asset_specs()  # loads
    with pytest.raises(MeshDefinitionError, match="domain 'marketing' has 1 problem"):
        domain_definitions("marketing", mesh)
    listed = cli(ungranted, "ports", "list")
    assert listed.returncode == 0 and "it has no grant" in listed.stderr


def test_a_pending_request_is_named_with_its_id_and_deciders_not_asked_for_again(ungranted: Path):
    made = access.request(load_mesh(ungranted, strict=False), CONSUMER, PORT, "Campaigns", by="analyst")
    reason = grant_problem(ungranted)
    assert f"access request {made.id} (made by analyst on {made.requested_at[:10]}) is pending" in reason
    assert "the owners of customers/customer_profiles (team crm-data, crm-data@example.com) decide" in reason
    assert f"`mesh access approve {made.id} --by …`" in reason
    assert "mesh access request" not in reason


def test_a_denied_a_revoked_and_an_expired_grant_are_told_apart(ungranted: Path):
    mesh = load_mesh(ungranted, strict=False)
    denied = access.request(mesh, CONSUMER, PORT, "x", by="analyst")
    access.decide(denied.id, "deny", by="crm-lead")
    assert f"access request {denied.id} was denied by crm-lead on" in grant_problem(ungranted)

    revoked = access.request(mesh, CONSUMER, PORT, "y", by="analyst")
    access.decide(revoked.id, "approve", by="crm-lead", expires=date(2030, 1, 31))
    assert set(load_mesh(ungranted, strict=False, today=date(2030, 1, 31)).broken) == set()
    expired = load_mesh(ungranted, strict=False, today=date(2030, 2, 1)).broken["marketing"][0].reason
    assert "its grant expired on 2030-01-31; renew it" in expired
    access.decide(revoked.id, "revoke", by="dpo")
    reason = grant_problem(ungranted)
    assert f"its grant (request {revoked.id}) was revoked by dpo on" in reason
    assert "if it is still needed, request access" in reason


# -- a removal date passing (issue 18) ----------------------------------------------------------------


def test_a_removal_date_fails_only_the_pinned_consumers_and_they_are_warned_before(project: Path, mesh_home: Path):
    """customers/customer_profiles v1 is removed after 2027-06-01 while sales, support and marketing pin it.
    The real clock is moved (time-machine), as a code location, a sensor or `mesh check` would see it."""
    introduce_v2(project)
    descriptor = project / "domains/customers/products/customer_profiles.yaml"
    descriptor.write_text(
        descriptor.read_text().replace("removedAfter, value: 2099-01-01", "removedAfter, value: 2027-06-01")
    )
    consumers = {"sales/orders", "support/tickets", "marketing/customer_360"}

    with time_machine.travel(datetime(2027, 4, 1, 12), tick=False):  # more than 30 days before: quiet
        mesh = load_mesh(project)
        assert not any("will be removed" in w.reason for w in mesh.warnings() if "deprecated" not in w.reason)
    with time_machine.travel(datetime(2027, 5, 23, 12), tick=False):  # 9 days before: warned, nothing fails
        mesh = load_mesh(project)
        assert mesh.broken == {}
        warned = {w.product: w.reason for w in mesh.warnings()}
        assert set(warned) == consumers
        assert all("will be removed after 2027-06-01" in r and "pin v2 before" in r for r in warned.values())
        report = validate_project(project, domains=[], manifest=dict, policies=False)
        assert report.problems == [] and len(report.warnings) == 3
        evaluations = governance_checks.evaluations_for(governance_checks.GOVERNANCE, mesh, only=consumers)
        notices = [n for ev in evaluations for n in ev.notices if n.kind == "version"]
        # Each consumer's team, and the producer's, which must know who still pins the old version.
        assert {n.team for n in notices} == {"sales-data", "support-ops", "growth-marketing", "crm-data"}
        assert all(n.severity == "warn" and "2027-06-01" in n.message for n in notices)
        assert notify.deliver(notices).queued == len(notices)
    with time_machine.travel(datetime(2027, 6, 2, 12), tick=False):  # the day after: only the consumers fail
        mesh = load_mesh(project, strict=False)
        assert set(mesh.broken) == {"sales", "support", "marketing"}
        for domain in ("sales", "support", "marketing"):
            (problem,) = [p for p in mesh.broken[domain] if p.product in consumers]
            assert f"'{PORT}' was removed after 2027-06-01; pin a newer major version (v2)" in problem.reason
            with pytest.raises(MeshDefinitionError, match="was removed after 2027-06-01"):
                domain_definitions(domain, mesh)  # its runs load the same definitions and fail the same way
        assert domain_definitions("customers", mesh).resolve_all_asset_specs()  # the producer
        assert domain_definitions("finance", mesh).resolve_all_asset_specs()  # reads sales/orders, still loads
        # A whole build holds finance back behind sales; built alone, it reads sales' last snapshot.
        assert mesh.buildable() == (
            ["customers"],
            {
                "finance": "upstream domain(s) sales cannot build",
                "marketing": "1 problem(s) in its definition",
                "sales": "1 problem(s) in its definition",
                "support": "1 problem(s) in its definition",
            },
        )
        assert mesh.buildable(["finance"]) == (["finance"], {})
        # The platform's governance check keeps evaluating, and tells the consumer's team what broke.
        evaluations = governance_checks.evaluations_for(governance_checks.GOVERNANCE, mesh)
        failed = {ev.product for ev in evaluations if not ev.passed}
        assert consumers <= failed and "customers/customer_profiles" not in failed
        assert "finance/daily_revenue" not in failed
        told = [n for ev in evaluations for n in ev.notices if n.kind == "definition"]
        assert {(n.team, n.subject) for n in told} >= {("growth-marketing", CONSUMER), ("sales-data", "sales/orders")}
        report = validate_project(project, domains=[], manifest=dict, policies=False)  # `mesh check`: exit 2
        assert any("was removed after 2027-06-01; pin a newer major version (v2)" in p for p in report.problems)
        # The platform location's governance sensor itself (it loads the mesh as it stands today).
        sensor = governance_sensors.governance_definitions().resolve_sensor_def("governance_sensor")
        with dg.DagsterInstance.ephemeral() as instance:
            result = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SensorResult), result
        checks = [e for e in result.asset_events or [] if isinstance(e, dg.AssetCheckEvaluation)]
        passed = {"/".join(e.asset_key.path): e.passed for e in checks}
        assert passed[CONSUMER] is False and passed["customers/customer_profiles"] is True
