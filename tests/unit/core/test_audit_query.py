"""`mesh audit list` (``audit.query``): the last entries of an action and its sub-actions, of one consumer
and one port if asked, oldest first; an action is matched whole, never by a prefix of its name."""

from __future__ import annotations

from meshwork.core import audit

ORDERS, PROFILES = "sales/orders@v1", "customers/customer_profiles@v1"
FINANCE, C360 = "finance/daily_revenue", "marketing/customer_360"


def record_reads() -> None:
    audit.record("port.read", consumer=FINANCE, port=ORDERS, n=1)
    audit.record("port.read.refused", consumer=C360, port=PROFILES, n=2)
    audit.record("port.reader", consumer=FINANCE, port=ORDERS, n=3)  # not a sub-action of port.read
    audit.record("access.request", consumer=C360, port=PROFILES, n=4)
    audit.record("port.read", consumer=C360, port=ORDERS, n=5)
    audit.record("port.read", consumer=FINANCE, port=PROFILES, n=6)
    audit.record("retention.purge", n=7)


def ns(rows: list[dict]) -> list[int]:
    return [r["n"] for r in rows]


def test_every_entry_oldest_first_when_nothing_is_asked():
    record_reads()
    assert ns(audit.query()) == [1, 2, 3, 4, 5, 6, 7]


def test_an_action_matches_itself_and_its_sub_actions_only():
    record_reads()
    assert ns(audit.query("port.read")) == [1, 2, 5, 6]
    assert ns(audit.query("port")) == [1, 2, 3, 5, 6]
    assert ns(audit.query("port.read.refused")) == [2]
    assert audit.query("port.rea") == []


def test_consumer_and_port_narrow_the_entries_each_on_its_own_and_together():
    record_reads()
    assert ns(audit.query(consumer=FINANCE)) == [1, 3, 6]
    assert ns(audit.query(port=ORDERS)) == [1, 3, 5]
    assert ns(audit.query("port.read", consumer=FINANCE, port=ORDERS)) == [1]
    assert ns(audit.query(consumer="nobody/at_all")) == []


def test_the_limit_keeps_the_last_entries():
    record_reads()
    assert ns(audit.query(limit=2)) == [6, 7]
    assert ns(audit.query("port.read", limit=3)) == [2, 5, 6]
    assert len(audit.query()) == 7  # the default limit (50) is more than there are


def test_the_default_limit_is_fifty():
    for n in range(55):
        audit.record("port.read", consumer=FINANCE, port=ORDERS, n=n)
    assert ns(audit.query()) == list(range(5, 55))


def test_a_mesh_that_never_recorded_lists_nothing():
    assert audit.query() == [] and audit.entries() == []
