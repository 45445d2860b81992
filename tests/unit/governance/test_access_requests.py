"""`mesh access request` and the decisions on it: what is recorded (in the store and the audit log), and
every request or decision that cannot be taken refused with a reason that says why, with nothing
written anywhere."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from meshwork.core import audit
from meshwork.governance import access
from meshwork.model import grants
from meshwork.model.loader import load_mesh
from tests.conftest import REPO

TODAY = date(2027, 6, 1)
PROFILES = "customers/customer_profiles@v1"  # restricted, in domain customers
C360 = "marketing/customer_360@v1"  # restricted, in domain marketing
FINANCE = "finance/daily_revenue"


@pytest.fixture
def mesh():
    return load_mesh(REPO, today=TODAY)


def nothing_written() -> bool:
    return grants.load() == [] and audit.entries() == []


def test_a_request_is_stored_pending_and_recorded_with_every_field(mesh, monkeypatch):
    monkeypatch.setattr(access, "os_user", lambda: "carol")  # a name given with --by wins over the OS user
    made = access.request(mesh, FINANCE, PROFILES, "Reconcile refunds", pii=True, expires=date(2027, 9, 30), by=" bob ")
    assert re.fullmatch(r"[0-9a-f]{10}", made.id)
    assert (made.consumer, made.port, made.reason, made.pii, made.expires) == (
        FINANCE,
        PROFILES,
        "Reconcile refunds",
        True,
        "2027-09-30",
    )
    assert made.status == "pending" and made.requested_by == "bob" and made.decided_by is None
    assert datetime.fromisoformat(made.requested_at).utcoffset() == UTC.utcoffset(None)
    assert grants.load() == [made]
    [entry] = audit.entries("access.request")
    assert {k: entry[k] for k in ("request", "consumer", "port", "reason", "pii", "expires", "by")} == {
        "request": made.id,
        "consumer": FINANCE,
        "port": PROFILES,
        "reason": "Reconcile refunds",
        "pii": True,
        "expires": "2027-09-30",
        "by": "bob",
    }
    assert audit.verify() == []


def test_a_request_asks_for_no_pii_and_no_expiry_unless_told(mesh):
    made = access.request(mesh, FINANCE, PROFILES, "Reconcile", by="bob")
    assert made.pii is False and made.expires is None
    entry = audit.entries("access.request")[-1]
    assert entry["pii"] is False and entry["expires"] is None


def test_an_expiry_of_today_is_accepted_and_one_of_yesterday_refused(mesh):
    assert access.request(mesh, FINANCE, PROFILES, "Reconcile", expires=TODAY, by="bob").expires == "2027-06-01"
    with pytest.raises(access.AccessError, match=r"^the expiry 2027-05-31 is in the past$"):
        access.request(mesh, FINANCE, C360, "Reconcile", expires=date(2027, 5, 31), by="bob")
    assert [r.port for r in grants.load()] == [PROFILES]


@pytest.mark.parametrize(
    ("consumer", "port", "reason", "by", "error"),
    [
        (FINANCE, PROFILES, "Reconcile", "  ", "a request names who makes it (--by)"),
        ("finance/nope", PROFILES, "Reconcile", "bob", "unknown consumer product 'finance/nope'"),
        (FINANCE, "nope/nope@v1", "Reconcile", "bob", "unknown port 'nope/nope@v1' (write it as"),
        (
            FINANCE,
            "customers/customer_profiles@vx",
            "Reconcile",
            "bob",
            "unknown port 'customers/customer_profiles@vx'",
        ),
        (
            FINANCE,
            "customers/customer_profiles@v9",
            "Reconcile",
            "bob",
            "unknown port 'customers/customer_profiles@v9'",
        ),
        (FINANCE, "customers/customer_profiles", "Reconcile", "bob", "unknown port 'customers/customer_profiles'"),
        (FINANCE, "sales/orders@v1", "Reconcile", "bob", "sales/orders@v1 is public: no grant is needed"),
        (
            "marketing/customer_segments",
            C360,
            "Segments",
            "bob",
            "marketing/customer_segments is in the producing domain and needs no grant",
        ),
        (FINANCE, PROFILES, "  ", "bob", "a request needs a reason (--reason)"),
    ],
    ids=[
        "no-requester",
        "consumer",
        "product",
        "major-not-a-number",
        "major",
        "no-major",
        "public",
        "domain",
        "reason",
    ],
)
def test_a_request_that_cannot_be_made_is_refused_with_why_and_writes_nothing(mesh, consumer, port, reason, by, error):
    with pytest.raises(access.AccessError) as exc:
        access.request(mesh, consumer, port, reason, by=by)
    assert str(exc.value).startswith(error)
    assert nothing_written()


def test_a_private_port_cannot_be_requested(project: Path):
    path = project / "domains/marketing/products/customer_360.yaml"
    path.write_text(
        path.read_text().replace("{property: visibility, value: restricted}", "{property: visibility, value: private}")
    )
    mesh = load_mesh(project, today=TODAY, check_grants=False)
    with pytest.raises(
        access.AccessError, match=r"^marketing/customer_360@v1 is private to domain 'marketing' and cannot be granted$"
    ):
        access.request(mesh, FINANCE, C360, "Reconcile", by="bob")
    assert nothing_written()


@pytest.mark.parametrize("status", ["pending", "approved"])
def test_a_second_request_while_one_is_pending_or_approved_is_refused(mesh, status):
    first = access.request(mesh, FINANCE, PROFILES, "Reconcile", by="bob")
    if status == "approved":
        access.decide(first.id, "approve", by="crm-data-lead")
    with pytest.raises(
        access.AccessError, match=f"^{FINANCE} already has a pending or approved request for {PROFILES}$"
    ):
        access.request(mesh, FINANCE, PROFILES, "Again", by="bob")
    assert [r.id for r in grants.load()] == [first.id]
    assert len(audit.entries("access.request")) == 1


@pytest.mark.parametrize("decision", ["deny", "revoke"])
def test_a_new_request_is_allowed_once_the_last_was_denied_or_revoked(mesh, decision):
    first = access.request(mesh, FINANCE, PROFILES, "Reconcile", by="bob")
    if decision == "revoke":
        access.decide(first.id, "approve", by="crm-data-lead")
    access.decide(first.id, decision, by="dpo")
    again = access.request(mesh, FINANCE, PROFILES, "Reconcile, with a new reason", by="bob")
    assert again.id != first.id and [r.status for r in grants.load()][-1] == "pending"


def test_other_consumers_and_other_ports_requests_do_not_block_a_request(mesh):
    access.request(mesh, "sales/order_lines", PROFILES, "Check customers", by="bob")  # another consumer, same port
    access.request(mesh, FINANCE, C360, "Segments revenue", by="bob")  # same consumer, another port
    made = access.request(mesh, FINANCE, PROFILES, "Reconcile", by="bob")
    assert [r.id for r in grants.load()][-1] == made.id and len(grants.load()) == 3


def test_a_decision_records_who_took_it_when_and_the_terms(mesh):
    made = access.request(mesh, FINANCE, PROFILES, "Reconcile", pii=True, by="bob")
    approved = access.decide(made.id, "approve", by=" crm-data-lead ", expires=date(2027, 8, 31))
    assert approved.status == "approved" and approved.decided_by == "crm-data-lead"
    assert datetime.fromisoformat(approved.decided_at or "").utcoffset() == UTC.utcoffset(None)
    entry = audit.entries("access.approve")[-1]
    assert {k: entry[k] for k in ("request", "consumer", "port", "pii", "expires", "by")} == {
        "request": made.id,
        "consumer": FINANCE,
        "port": PROFILES,
        "pii": True,
        "expires": "2027-08-31",
        "by": "crm-data-lead",
    }
    assert approved.approval_hash == entry["hash"] and grants.load() == [approved]
    revoked = access.decide(made.id, "revoke", by="dpo")
    assert revoked.status == "revoked" and audit.entries("access.revoke")[-1]["by"] == "dpo"
    assert revoked.approval_hash == entry["hash"]  # the approval it revoked stays named


@pytest.mark.parametrize(
    ("decision", "by", "status", "error"),
    [
        ("approve!", "dpo", "pending", "unknown decision 'approve!'"),
        ("approve", "  ", "pending", "a decision names who took it (--by)"),
        ("revoke", "dpo", "pending", "request {id} is pending; only an approved request can be revoked"),
        ("approve", "dpo", "denied", "request {id} is denied; only a pending request can be approved"),
        ("deny", "dpo", "denied", "request {id} is denied; only a pending request can be denied"),
    ],
    ids=["unknown-decision", "no-decider", "revoke-pending", "approve-denied", "deny-denied"],
)
def test_a_decision_that_cannot_be_taken_is_refused_with_why_and_changes_nothing(mesh, decision, by, status, error):
    made = access.request(mesh, FINANCE, PROFILES, "Reconcile", by="bob")
    if status == "denied":
        access.decide(made.id, "deny", by="crm-data-lead")
    before_store, before_log = grants.load(), audit.entries()
    with pytest.raises(access.AccessError) as exc:
        access.decide(made.id, decision, by=by)
    assert str(exc.value) == error.format(id=made.id)
    assert grants.load() == before_store and audit.entries() == before_log


def test_a_decision_on_an_unknown_request_is_refused(mesh):
    access.request(mesh, FINANCE, PROFILES, "Reconcile", by="bob")
    with pytest.raises(access.AccessError, match=r"^no access request 'nope'$"):
        access.decide("nope", "approve", by="dpo")
    assert [e["action"] for e in audit.entries()] == ["access.request"]
