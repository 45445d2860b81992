"""A consumer refused a restricted port is told why, from its own access requests, and what to do next:
no request, a pending one (its id, who made it, who decides), a lapsed grant, a revocation, a denial, or
an approval the audit log does not prove. Other consumers' and other ports' requests never leak in."""

from __future__ import annotations

from datetime import date

from meshwork.model import grants
from meshwork.model.descriptors import Grant
from meshwork.model.grants import AccessRequest

PORT = "customers/customer_profiles@v1"
CONSUMER = "marketing/customer_360"
DECIDERS = "the owners of customers/customer_profiles (team crm)"
ASK = f"request access with `mesh access request {CONSUMER} {PORT} --reason …`"


def stored(*requests: AccessRequest) -> None:
    """Put ``requests`` into the grant store in this order (the store's order is not the time order)."""
    with grants.locked_store() as rows:
        rows.extend(requests)


def req(id_: str, status: str, at: str, **fields) -> AccessRequest:
    base = {"consumer": CONSUMER, "port": PORT, "reason": "Campaigns", "pii": False, "expires": None}
    return AccessRequest(id=id_, status=status, requested_at=at, **(base | fields))  # type: ignore[arg-type]


def why(lapsed: list[Grant] | None = None) -> str:
    return grants.why_not_granted(CONSUMER, PORT, lapsed or [], DECIDERS)


def lapsed(*expiries: date) -> list[Grant]:
    return [Grant(consumer=CONSUMER, purpose="Campaigns", expires=e) for e in expiries]


def test_no_grant_and_no_request_says_how_to_ask_and_who_decides():
    # Requests of another consumer, and of this consumer on another port, are not this consumer's.
    stored(
        req("other0001", "pending", "2026-01-01T09:00:00+00:00", consumer="marketing/customer_segments"),
        req("other0002", "denied", "2026-01-02T09:00:00+00:00", port="sales/orders@v1"),
    )
    assert why() == f"it has no grant and no access request; {ASK} ({DECIDERS} decide)"


def test_a_pending_request_is_named_with_who_made_it_when_and_who_decides():
    stored(
        req("other0001", "revoked", "2026-03-01T09:00:00+00:00", consumer="marketing/customer_segments"),
        req("pend00001", "pending", "2026-02-14T23:59:00+00:00", requested_by="alice"),
        req("other0002", "denied", "2026-03-02T09:00:00+00:00", port="sales/orders@v1"),
    )
    assert why() == (
        "access request pend00001 (made by alice on 2026-02-14) is pending: "
        f"{DECIDERS} decide with `mesh access approve pend00001 --by …` (or `deny`)"
    )


def test_a_pending_request_from_a_store_that_did_not_record_requesters_names_no_one():
    stored(req("pend00001", "pending", "2026-02-14T10:00:00+00:00"))
    assert why().startswith("access request pend00001 (made on 2026-02-14) is pending: ")


def test_the_pending_request_is_named_even_after_a_newer_denial_and_an_older_grant_that_lapsed():
    stored(
        req("deny00002", "denied", "2026-05-01T10:00:00+00:00", decided_by="dpo"),
        req("pend00001", "pending", "2026-04-01T10:00:00+00:00", requested_by="bob"),
    )
    assert why(lapsed(date(2026, 1, 31), date(2026, 3, 31))) == (
        "its grant expired on 2026-03-31 and access request pend00001 (made by bob on 2026-04-01) is pending: "
        f"{DECIDERS} decide with `mesh access approve pend00001 --by …` (or `deny`)"
    )


def test_a_lapsed_grant_without_a_pending_request_says_when_it_expired_and_to_renew():
    stored(req("appr00001", "approved", "2026-01-01T10:00:00+00:00"))
    assert why(lapsed(date(2026, 3, 31), date(2026, 6, 30))) == f"its grant expired on 2026-06-30; renew it: {ASK}"


def test_the_newest_request_by_time_decides_the_reason_whatever_the_stores_order():
    newest = req(
        "revk00003", "revoked", "2026-06-01T10:00:00+00:00", decided_by="dpo", decided_at="2026-07-04T08:00:00+00:00"
    )
    stored(
        newest,
        req("deny00001", "denied", "2026-01-01T10:00:00+00:00", decided_by="a", decided_at="2026-01-02T00:00:00"),
        req("deny00002", "denied", "2026-02-01T10:00:00+00:00", decided_by="b", decided_at="2026-02-02T00:00:00"),
    )
    assert why() == f"its grant (request revk00003) was revoked by dpo on 2026-07-04; if it is still needed, {ASK}"


def test_a_denied_request_names_who_denied_it_and_when():
    stored(req("deny00001", "denied", "2026-01-01T10:00:00+00:00", decided_by="dpo", decided_at="2026-01-09T10:00:00"))
    denied = "access request deny00001 was denied by dpo on 2026-01-09"
    assert why() == f"{denied}; {ASK} with a new reason, or ask {DECIDERS}"


def test_a_denied_request_typed_into_the_store_without_a_decider_still_explains():
    stored(req("deny00001", "denied", "2026-01-01T10:00:00+00:00"))
    assert why() == f"access request deny00001 was denied; {ASK} with a new reason, or ask {DECIDERS}"


def test_a_revoked_request_without_a_decider_still_explains():
    stored(req("revk00001", "revoked", "2026-01-01T10:00:00+00:00"))
    assert why() == f"its grant (request revk00001) was revoked; if it is still needed, {ASK}"


def test_an_approval_the_log_does_not_prove_is_called_out_as_not_counting():
    stored(req("appr00001", "approved", "2026-01-01T10:00:00+00:00", decided_by="mallory", decided_at="2026-01-02"))
    assert why() == (
        "access request appr00001 is marked approved, but the audit log does not prove that approval, so it "
        f"does not count (`mesh access list` flags it FORGED); {ASK}"
    )
