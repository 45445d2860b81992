"""Runtime governance: the platform location's sensors record policy, SLA and grant checks and notify teams."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from meshwork.governance import access, notify
from meshwork.locations import governance_sensors
from meshwork.model.loader import load_mesh
from meshwork.runtime import governance_checks
from meshwork.runtime.governance_checks import GOVERNANCE, GRANTS, SLA
from meshwork.runtime.instance import ensure_local_instance
from meshwork.storage import snapshots
from tests.conftest import BIN, REPO
from tests.integration.test_policies import edit

pytestmark = pytest.mark.slow


def tick(check: str, cursor: str | None = None) -> tuple[dict[tuple[str, str], dg.AssetCheckEvaluation], str | None]:
    sensor = governance_definitions().resolve_sensor_def(f"{check}_sensor")
    with dg.DagsterInstance.ephemeral() as instance:
        result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult), result
    events = {("/".join(e.asset_key.path), e.check_name): e for e in result.asset_events}
    return events, result.cursor


def governance_definitions() -> dg.Definitions:
    return governance_sensors.governance_definitions(load_mesh(check_grants=False))


def test_a_built_mesh_passes_every_runtime_check_and_notifies_nobody(built_mesh: Path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(built_mesh))
    products = set(load_mesh().products)
    for check in (GOVERNANCE, SLA, GRANTS):
        events, _ = tick(check)
        assert {p for p, c in events if c == check} == products
        failed = {k: e.description for k, e in events.items() if not e.passed}
        assert not failed, failed
    assert notify.outbox() == []


def test_an_unpublished_mesh_breaches_every_sla_and_tells_each_owner_once(project: Path):
    events, cursor = tick(SLA)
    orders = events[("sales/orders", SLA)]
    assert not orders.passed and orders.severity == dg.AssetCheckSeverity.ERROR
    assert "never been published" in orders.metadata["findings"].value
    sent = notify.outbox()
    assert {(n["team"], n["subject"]) for n in sent} >= {
        ("sales-data", "sales/orders"),
        ("growth-marketing", "marketing/customer_360"),
    }
    assert {n["subject"] for n in sent} == set(load_mesh().products)
    # The next tick sees the same breaches: nothing new to say.
    tick(SLA, cursor)
    assert len(notify.outbox()) == len(sent)


def test_a_stale_port_breaches_its_sla(built_mesh: Path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(built_mesh))
    mesh = load_mesh()
    later = datetime.now(UTC) + timedelta(hours=27)  # orders promise 26h
    stale = {e.product for e in governance_checks.sla_evaluations(mesh, later) if not e.passed}
    assert "sales/orders" in stale
    # The age is written the way the SLA is, to the minute, not rounded to tenths of hours.
    snapshot = snapshots.latest_snapshot("sales", "orders", 1)
    published = snapshots.read_manifest("sales", "orders", 1, snapshot).created_at
    [orders] = governance_checks.sla_evaluations(mesh, published + timedelta(hours=27, minutes=5), {"sales/orders"})
    assert orders.findings == [f"sales/orders@v1 is 1d 3h old, over its 26h freshness SLA (snapshot {snapshot})"]
    fresh = {e.product for e in governance_checks.sla_evaluations(mesh, datetime.now(UTC)) if not e.passed}
    assert fresh == set()


def test_a_policy_violation_fails_the_governance_check_notifies_the_owner_and_resolves(project: Path):
    descriptor = project / "domains/support/products/tickets.yaml"
    original = descriptor.read_text()
    edit(
        descriptor,
        "purpose: Every customer support ticket from the helpdesk, with its resolution time and rating.",
        "purpose: Tickets.",
    )
    events, cursor = tick(GOVERNANCE)
    tickets = events[("support/tickets", GOVERNANCE)]
    assert not tickets.passed and "documentation" in tickets.metadata["findings"].value
    assert events[("sales/orders", GOVERNANCE)].passed
    opened = [n for n in notify.outbox() if n["subject"] == "support/tickets"]
    assert opened and opened[0]["state"] == "open" and opened[0]["team"] == "support-ops"
    descriptor.write_text(original)
    events, _ = tick(GOVERNANCE, cursor)
    assert events[("support/tickets", GOVERNANCE)].passed
    resolved = [n for n in notify.outbox() if n["state"] == "resolved"]
    assert [n["subject"] for n in resolved] == ["support/tickets"]


def test_expiring_expired_and_missing_grants_are_reported_to_consumer_and_producer(project: Path):
    profiles = project / "domains/customers/products/customer_profiles.yaml"
    soon = date.today() + timedelta(days=5)
    edit(profiles, "expires: 2027-12-31", f"expires: {soon.isoformat()}")
    events, _ = tick(GRANTS)
    c360 = events[("marketing/customer_360", GRANTS)]
    assert not c360.passed and c360.severity == dg.AssetCheckSeverity.WARN
    assert f"expires on {soon}" in c360.metadata["findings"].value
    teams = {n["team"] for n in notify.outbox() if n["subject"] == "marketing/customer_360"}
    assert teams == {"growth-marketing", "crm-data"}
    # An approved request with a longer expiry renews it.
    req = access.request(
        load_mesh(check_grants=False), "marketing/customer_360", "customers/customer_profiles@v1", "renewal", pii=True
    )
    access.decide(req.id, "approve", by="crm-data", expires=date.today() + timedelta(days=365))
    events, _ = tick(GRANTS)
    assert events[("marketing/customer_360", GRANTS)].passed
    # Expired: reads would be refused, so it is an error.
    edit(profiles, f"expires: {soon.isoformat()}", "expires: 2020-01-01")
    access.decide(req.id, "revoke", by="crm-data")
    events, _ = tick(GRANTS)
    c360 = events[("marketing/customer_360", GRANTS)]
    assert not c360.passed and c360.severity == dg.AssetCheckSeverity.ERROR
    assert "expired on 2020-01-01" in c360.metadata["findings"].value


def test_the_checks_also_run_on_demand_from_each_domains_location(built_mesh: Path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(built_mesh))
    mesh = load_mesh()
    evaluations = {}
    for domain in mesh.domains:
        checks = governance_checks.domain_checks(mesh, domain)
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(checks, instance=instance, selection=dg.AssetSelection.all_asset_checks())
        assert result.success
        for e in result.get_asset_check_evaluations():
            assert e.asset_key.path[0] == domain  # a location checks only its own products
            evaluations[("/".join(e.asset_key.path), e.check_name)] = e
    assert set(evaluations) == {(p, c) for p in mesh.products for c in (GOVERNANCE, SLA, GRANTS)}
    assert all(e.passed for e in evaluations.values())


def test_the_platform_location_declares_no_check_on_another_locations_asset():
    from meshwork.locations.platform import defs

    platform = defs()
    assert not list(platform.asset_checks or []), "a check here breaks the UI's Materialize of that asset"
    assert {s.name for s in platform.sensors or []} >= {f"{c}_sensor" for c in (GOVERNANCE, SLA, GRANTS)}


def test_the_daemon_records_runtime_checks_on_the_real_instance(built_mesh: Path, tmp_path: Path, monkeypatch):
    """`dagster-daemon` with the platform location: sensor ticks land as check evaluations on the instance."""
    home = built_mesh
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "MESH_GOVERNANCE_INTERVAL": "5"}
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    ensure_local_instance()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module: {module_name: meshwork.locations.platform, location_name: platform}\n"
    )
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    key = dg.AssetCheckKey(dg.AssetKey(["sales", "orders"]), SLA)
    try:
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + 240
            record = None
            while time.monotonic() < deadline and record is None:
                record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)
                if record is None:
                    assert proc.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                    time.sleep(3)
        assert record is not None, (tmp_path / "daemon.log").read_text()[-3000:]
        assert record.status.value == "SUCCEEDED"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a daemon slow to stop on a loaded machine is not the test's subject
            proc.kill()
            proc.wait()


def test_a_port_that_stays_stale_is_one_open_notice_not_one_per_tick(built_mesh: Path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(built_mesh))
    mesh = load_mesh()
    later = datetime.now(UTC) + timedelta(days=30)
    opened, cursor = governance_sensors.changes(governance_checks.evaluations_for(SLA, mesh, later), None)
    assert len(opened) == len(mesh.products) and all(n.state == "open" for n in opened)
    # Each notice carries its team's address from domain.yaml, for the receiver to route.
    assert {n.contact for n in opened if n.subject.startswith("sales/")} == {"sales-data@example.com"}
    # Six minutes on (one sensor interval) the ports are older still: nothing new, nothing "resolved".
    again, _ = governance_sensors.changes(
        governance_checks.evaluations_for(SLA, mesh, later + timedelta(minutes=6)), cursor
    )
    assert again == []


def test_a_breach_left_open_escalates_by_email_to_the_contact_in_domain_yaml(built_mesh: Path, monkeypatch):
    from meshwork.governance import channels, escalation
    from tests.unit.governance.receivers import SmtpServer

    monkeypatch.setenv("MESH_HOME", str(built_mesh))
    monkeypatch.setenv("MESH_NOTICE_ESCALATE_AFTER", "2h")
    monkeypatch.delenv("MESH_NOTIFY_WEBHOOK", raising=False)
    monkeypatch.delenv("MESH_NOTIFY_SLACK", raising=False)
    monkeypatch.setattr(channels, "BACKOFF", 0.05)
    mesh = load_mesh()
    contacts = escalation.contacts(mesh)
    stale = datetime.now(UTC) + timedelta(days=30)
    evaluations = governance_checks.evaluations_for(SLA, mesh, stale)
    opened, cursor = governance_sensors.changes(evaluations, None, stale, contacts)
    assert {n.state for n in opened} == {"open"}
    with SmtpServer() as smtp:
        monkeypatch.setenv("MESH_NOTIFY_SMTP", smtp.url)
        later = stale + timedelta(hours=2, minutes=1)
        notices, cursor = governance_sensors.changes(
            governance_checks.evaluations_for(SLA, mesh, later), cursor, later, contacts
        )
        notify.deliver(notices)
    # Every breach is escalated once; sales declares its escalation contact, the others go to the platform.
    escalated = {n.subject: n for n in notices if n.state == "escalated"}
    assert set(escalated) == set(mesh.products) and len(notices) == len(mesh.products)
    orders = escalated["sales/orders"]
    assert (orders.team, orders.contact) == ("sales-leads", "sales-leads@example.com")
    assert escalated["support/tickets"].team == "platform"
    mailed = {to for _, rcpt, _ in smtp.messages for to in rcpt}
    assert mailed == {"sales-leads@example.com"}  # the platform team has no address here (MESH_NOTICE_ESCALATE_TO)
    journal = notify.outbox_notices(team="platform", channel="email")
    assert journal and all("no e-mail address" in n["skipped"] for n in journal)
