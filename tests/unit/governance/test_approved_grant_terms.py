"""An approved request grants exactly what was approved: its PII right and its expiry are carried into
the grant, and widening either in the store afterwards (or moving the grant to another consumer or port)
turns the approval into a forgery. Only decisions decide: other lines naming the request change nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from meshwork.core import audit
from meshwork.governance import access
from meshwork.model import grants
from meshwork.model.grants import AccessRequest

PORT = "customers/customer_profiles@v1"
CONSUMER = "marketing/customer_360"


def requested(pii: bool, expires: str | None = None) -> AccessRequest:
    """A pending request as ``access.request`` leaves it, without loading a mesh for it."""
    made = AccessRequest(
        id=uuid.uuid4().hex[:10],
        consumer=CONSUMER,
        port=PORT,
        reason="Campaigns",
        pii=pii,
        expires=expires,
        status="pending",
        requested_at=datetime.now(UTC).isoformat(),
        requested_by="alice",
    )
    with grants.locked_store() as rows:
        rows.append(made)
    audit.record("access.request", request=made.id, consumer=CONSUMER, port=PORT, pii=pii, expires=expires, by="alice")
    return made


def store_edit(request_id: str, **changes) -> None:
    """Change the request in access.json by hand, as someone with write access to MESH_HOME would."""
    path = grants.store_path()
    rows = json.loads(path.read_text())
    for row in rows:
        if row["id"] == request_id:
            row.update(changes)
    path.write_text(json.dumps(rows))


def the_grant():
    found, forged = grants.approved_grants()
    assert forged == [], f"unexpectedly forged: {[r.id for r in forged]}"
    [grant] = found[PORT]
    return grant


@pytest.mark.parametrize("pii", [True, False])
def test_the_grant_carries_the_pii_right_that_was_approved(pii):
    r = requested(pii=pii)
    access.decide(r.id, "approve", by="crm-data-lead")
    grant = the_grant()
    assert grant.consumer == CONSUMER and grant.purpose == "Campaigns" and grant.pii is pii


def test_the_grant_expires_on_the_day_that_was_approved():
    r = requested(pii=False, expires="2027-03-31")
    access.decide(r.id, "approve", by="crm-data-lead")
    grant = the_grant()
    assert grant.expires == date(2027, 3, 31)
    assert grant.is_valid(date(2027, 3, 31)) and not grant.is_valid(date(2027, 4, 1))


def test_an_expiry_set_by_the_approver_is_the_grants_expiry():
    r = requested(pii=False)
    access.decide(r.id, "approve", by="crm-data-lead", expires=date(2027, 6, 30))
    assert audit.entries("access.approve")[-1]["expires"] == "2027-06-30"
    assert the_grant().expires == date(2027, 6, 30)


def test_a_grant_approved_without_an_expiry_never_expires():
    r = requested(pii=False)
    access.decide(r.id, "approve", by="crm-data-lead")
    grant = the_grant()
    assert grant.expires is None and grant.is_valid(date(2999, 1, 1))


@pytest.mark.parametrize(
    "widened",
    [
        {"pii": True},  # PII in clear, approved without it
        {"expires": None},  # the expiry removed
        {"expires": "2099-12-31"},  # the expiry pushed out
        {"consumer": "marketing/customer_segments"},  # moved to another consumer
        {"port": "sales/orders@v1"},  # moved to another port
    ],
    ids=["pii", "no-expiry", "later-expiry", "consumer", "port"],
)
def test_an_approved_grant_widened_in_the_store_no_longer_counts(widened):
    r = requested(pii=False, expires="2027-03-31")
    approved = access.decide(r.id, "approve", by="crm-data-lead")
    store_edit(r.id, **widened)
    assert audit.verify() == []  # the log is intact: only the store was edited
    found, forged = grants.approved_grants()
    assert found == {} and [f.id for f in forged] == [approved.id]
    assert [row["forged"] for row in grants.access_requests()] == [True]


def test_an_approval_hash_pointing_at_another_genuine_approval_does_not_count():
    first, second = requested(pii=False), requested(pii=True)
    a = access.decide(first.id, "approve", by="crm-data-lead")
    access.decide(second.id, "approve", by="crm-data-lead")
    store_edit(second.id, approval_hash=a.approval_hash)
    found, forged = grants.approved_grants()
    assert [g.pii for g in found[PORT]] == [False] and [f.id for f in forged] == [second.id]


def test_a_later_signed_line_naming_the_request_that_is_no_decision_leaves_the_approval_standing():
    r = requested(pii=False)
    access.decide(r.id, "approve", by="crm-data-lead")
    # A line that names the request but decides nothing, signed like any other.
    audit.record("access.request", request=r.id, consumer=CONSUMER, port=PORT, pii=False, expires=None, by="bob")
    assert audit.verify() == []
    assert the_grant().consumer == CONSUMER
