"""An approval counts only if the signed audit log proves it and nothing later revoked or denied it;
nobody approves their own request."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from meshwork.core import audit
from meshwork.governance import access
from meshwork.model import grants
from meshwork.model.grants import AccessRequest

PORT = "customers/customer_profiles@v1"
CONSUMER = "marketing/customer_360"


def pending(by: str | None = "alice") -> AccessRequest:
    """A request as ``access.request`` leaves it (without loading a mesh for it)."""
    made = AccessRequest(
        id=uuid.uuid4().hex[:10],
        consumer=CONSUMER,
        port=PORT,
        reason="Campaigns",
        pii=True,
        expires=None,
        status="pending",
        requested_at=datetime.now(UTC).isoformat(),
        requested_by=by,
    )
    with grants.locked_store() as requests:
        requests.append(made)
    audit.record("access.request", request=made.id, consumer=CONSUMER, port=PORT, pii=True, expires=None, by=by)
    return made


def store_edit(request_id: str, **changes) -> None:
    """Change the request in access.json by hand, as someone with write access to MESH_HOME would."""
    path = grants.store_path()
    rows = json.loads(path.read_text())
    for row in rows:
        if row["id"] == request_id:
            row.update(changes)
    path.write_text(json.dumps(rows))


def forged_approval(r: AccessRequest, prev: str) -> dict:
    """An approval line with a correctly computed hash, as anyone can make without the signing key."""
    fields = {"at": datetime.now(UTC).isoformat(), "action": "access.approve", "request": r.id, "consumer": r.consumer}
    return audit.seal({**fields, "port": r.port, "pii": r.pii, "expires": r.expires, "by": "mallory"}, prev)


def granted() -> list[str]:
    return [g.consumer for g in grants.approved_grants()[0].get(PORT, [])]


def forged_ids() -> list[str]:
    return [r.id for r in grants.approved_grants()[1]]


def test_a_genuine_approval_grants_and_is_not_flagged():
    r = pending()
    access.decide(r.id, "approve", by="crm-data-lead")
    assert granted() == [CONSUMER] and forged_ids() == []
    assert [row["forged"] for row in grants.access_requests()] == [False]


def test_an_approval_typed_into_the_store_with_an_audit_line_of_any_hash_grants_nothing():
    r = pending()
    log = audit.log_path()
    entry = {**forged_approval(r, json.loads(log.read_text().splitlines()[-1])["hash"]), "hash": "0" * 64}
    log.write_text(log.read_text() + json.dumps(entry, sort_keys=True) + "\n")
    store_edit(r.id, status="approved", decided_by="mallory", approval_hash="0" * 64)
    assert granted() == [] and forged_ids() == [r.id]
    assert [row["forged"] for row in grants.access_requests()] == [True]


def test_an_approval_line_appended_with_a_correct_hash_but_no_signature_grants_nothing():
    r = pending()
    log = audit.log_path()
    rows = log.read_text().splitlines()
    entry = forged_approval(r, json.loads(rows[-1])["hash"])
    log.write_text(log.read_text() + json.dumps(entry, sort_keys=True) + "\n")
    store_edit(r.id, status="approved", decided_by="mallory", approval_hash=entry["hash"])
    assert granted() == [] and forged_ids() == [r.id]
    assert audit.verify()[0].startswith("line 2: not covered by a signed checkpoint")


def test_an_approval_line_with_a_correct_hash_outside_the_chain_grants_nothing():
    r = pending()
    entry = forged_approval(r, audit.GENESIS)
    log = audit.log_path()
    log.write_text(log.read_text() + json.dumps(entry, sort_keys=True) + "\n")
    store_edit(r.id, status="approved", decided_by="mallory", approval_hash=entry["hash"])
    assert granted() == [] and forged_ids() == [r.id]


def test_an_approval_inserted_and_the_rest_of_the_chain_recomputed_grants_nothing():
    r = pending()
    for i in range(3):
        audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot=f"s{i}")
    log = audit.log_path()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    forged, prev = [rows[0]], rows[0]["hash"]
    for entry in [forged_approval(r, prev), *rows[1:]]:
        entry = audit.seal({k: v for k, v in entry.items() if k not in ("prev", "hash")}, prev)
        forged.append(entry)
        prev = entry["hash"]
    log.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in forged))
    store_edit(r.id, status="approved", decided_by="mallory", approval_hash=forged[1]["hash"])
    assert granted() == [] and forged_ids() == [r.id]


@pytest.mark.parametrize("decision", ["revoke", "deny"])
def test_a_revoked_or_denied_request_set_back_to_approved_in_the_store_grants_nothing(decision):
    r = pending()
    if decision == "revoke":
        approved = access.decide(r.id, "approve", by="crm-data-lead")
        access.decide(r.id, "revoke", by="dpo")
        store_edit(r.id, status="approved", approval_hash=approved.approval_hash)
    else:
        access.decide(r.id, "deny", by="crm-data-lead")
        store_edit(r.id, status="approved")
    assert audit.verify() == []  # the log is intact: only the store was edited
    assert granted() == [] and forged_ids() == [r.id]


def test_an_old_approval_replayed_after_its_revocation_grants_nothing():
    r = pending()
    approved = access.decide(r.id, "approve", by="crm-data-lead")
    access.decide(r.id, "revoke", by="dpo")
    approval = next(line for line in audit.log_path().read_text().splitlines() if '"access.approve"' in line)
    with audit.log_path().open("a") as f:
        f.write(approval + "\n")
    store_edit(r.id, status="approved", approval_hash=approved.approval_hash)
    assert granted() == [] and forged_ids() == [r.id]


def test_an_approval_still_counts_when_the_log_is_damaged_only_after_it():
    r = pending()
    access.decide(r.id, "approve", by="crm-data-lead")
    audit.record("port.read", consumer=CONSUMER, port=PORT, snapshot="s1")
    log = audit.log_path()
    log.write_text(log.read_text().replace('"s1"', '"s2"'))
    assert audit.verify() and granted() == [CONSUMER]


def test_an_approval_no_longer_counts_when_the_log_is_damaged_before_it():
    r = pending()
    access.decide(r.id, "approve", by="crm-data-lead")
    log = audit.log_path()
    log.write_text(log.read_text().replace('"Campaigns"', '"Other"', 1).replace('"by": "alice"', '"by": "eve"', 1))
    assert granted() == [] and forged_ids() == [r.id]


def test_the_requester_cannot_approve_their_own_request_and_nothing_changes():
    r = pending(by="alice")
    with pytest.raises(access.AccessError, match="Alice requested .* and cannot approve it"):
        access.decide(r.id, "approve", by="Alice ")
    assert grants.load()[0].status == "pending"
    assert [e["action"] for e in audit.entries("access")] == ["access.request"]
    # The requester may still withdraw: a deny takes nothing away from anyone.
    assert access.decide(r.id, "deny", by="alice").status == "denied"


def test_a_request_records_who_made_it_by_default_the_os_user(project, monkeypatch):
    from meshwork.model.loader import load_mesh

    path = project / "domains/customers/products/customer_profiles.yaml"
    path.write_text(path.read_text().replace(f"consumer: {CONSUMER}\n", "consumer: marketing/customer_segments\n"))
    mesh = load_mesh(project, check_grants=False)
    monkeypatch.setattr(access, "os_user", lambda: "carol")
    made = access.request(mesh, CONSUMER, PORT, "Campaigns")
    assert made.requested_by == "carol" and audit.entries("access.request")[-1]["by"] == "carol"
    with pytest.raises(access.AccessError, match="carol requested"):
        access.decide(made.id, "approve", by="carol")
    assert access.decide(made.id, "approve", by="crm-data-lead").status == "approved"


def test_a_store_written_before_requesters_were_recorded_still_loads():
    path = grants.store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {k: v for k, v in vars(pending()).items() if k != "requested_by"}
    path.write_text(json.dumps([row]))
    [loaded] = grants.load()
    assert loaded.requested_by is None
    assert access.decide(loaded.id, "approve", by="crm-data-lead").status == "approved"


def test_mesh_access_approve_refuses_the_requester_with_a_clear_error():
    from tests.conftest import mesh_cli

    r = pending(by="alice")
    result = mesh_cli("access", "approve", r.id, "--by", "alice")
    assert result.returncode == 2 and "alice requested" in result.stderr and "cannot approve it" in result.stderr
    assert mesh_cli("access", "approve", r.id, "--by", "crm-data-lead").returncode == 0
