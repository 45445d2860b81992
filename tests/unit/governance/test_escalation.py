"""Escalation: an error left open past MESH_NOTICE_ESCALATE_AFTER is told, once, to the domain's escalation
contact (domain.yaml) or the platform team; when it ends, both hear of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meshwork.governance import escalation
from meshwork.governance.escalation import Contact
from meshwork.governance.notify import Notice
from meshwork.model.loader import load_mesh

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEADS = {"sales-data": Contact("sales-leads", "sales-leads@example.com")}


def stale(severity: str = "error") -> Notice:
    return Notice("sales-data", "sla", "sales/orders", severity, "sales/orders@v1 breaches its 2m freshness SLA",
                  contact="sales-data@example.com")  # fmt: skip


def test_an_error_left_open_escalates_once_to_the_domains_contact_and_both_hear_it_end():
    opened, cursor = escalation.track([stale()], None, T0, LEADS, timedelta(hours=4))
    assert [(n.state, n.team) for n in opened] == [("open", "sales-data")]
    early, cursor = escalation.track([stale()], cursor, T0 + timedelta(hours=3, minutes=59), LEADS, timedelta(hours=4))
    assert early == []
    up, cursor = escalation.track([stale()], cursor, T0 + timedelta(hours=4, minutes=5), LEADS, timedelta(hours=4))
    [esc] = up
    assert (esc.state, esc.team, esc.contact, esc.severity) == ("escalated", "sales-leads", "sales-leads@example.com",
                                                                 "error")  # fmt: skip
    assert esc.message.startswith("unresolved for 4h 5m (owner sales-data <sales-data@example.com>)")
    later, cursor = escalation.track([stale()], cursor, T0 + timedelta(days=3), LEADS, timedelta(hours=4))
    assert later == []  # escalated once, not once per tick
    ended, _ = escalation.track([], cursor, T0 + timedelta(days=3, hours=1), LEADS, timedelta(hours=4))
    assert sorted((n.state, n.team, n.contact) for n in ended) == [
        ("resolved", "sales-data", "sales-data@example.com"),
        ("resolved", "sales-leads", "sales-leads@example.com"),
    ]


def test_a_breach_that_ends_before_the_time_is_never_escalated():
    _, cursor = escalation.track([stale()], None, T0, LEADS, timedelta(hours=4))
    ended, _ = escalation.track([], cursor, T0 + timedelta(hours=5), LEADS, timedelta(hours=4))
    assert [(n.state, n.team) for n in ended] == [("resolved", "sales-data")]


def test_warnings_do_not_escalate_and_off_turns_escalation_off(monkeypatch):
    _, cursor = escalation.track([stale("warn")], None, T0, LEADS, timedelta(hours=1))
    assert escalation.track([stale("warn")], cursor, T0 + timedelta(days=30), LEADS, timedelta(hours=1))[0] == []
    monkeypatch.setenv("MESH_NOTICE_ESCALATE_AFTER", "off")
    assert escalation.escalate_after() is None
    _, cursor = escalation.track([stale()], None, T0, LEADS)
    assert escalation.track([stale()], cursor, T0 + timedelta(days=30), LEADS)[0] == []


def test_without_a_domain_contact_the_platform_team_is_told_at_the_configured_time(monkeypatch):
    monkeypatch.setenv("MESH_NOTICE_ESCALATE_AFTER", "30m")
    monkeypatch.setenv("MESH_NOTICE_ESCALATE_TO", "data-platform@example.com")
    _, cursor = escalation.track([stale()], None, T0, {})
    assert escalation.track([stale()], cursor, T0 + timedelta(minutes=29), {})[0] == []
    [esc] = escalation.track([stale()], cursor, T0 + timedelta(minutes=31), {})[0]
    assert (esc.team, esc.contact) == ("platform", "data-platform@example.com")


def test_a_cursor_written_before_escalation_existed_counts_from_now():
    old = '{"sla|sales-data|sales/orders|sales/orders@v1 breaches its 2m freshness SLA": {"team": "sales-data", ' \
          '"kind": "sla", "subject": "sales/orders", "message": "sales/orders@v1 breaches its 2m freshness SLA", ' \
          '"contact": null}}'  # fmt: skip
    same, cursor = escalation.track([stale()], old, T0, LEADS, timedelta(hours=1))
    assert same == []  # still the same breach: no new notice
    later, _ = escalation.track([stale()], cursor, T0 + timedelta(hours=2), LEADS, timedelta(hours=1))
    assert [n.state for n in later] == ["escalated"]


def test_a_malformed_escalation_time_names_the_setting(monkeypatch):
    monkeypatch.setenv("MESH_NOTICE_ESCALATE_AFTER", "four hours")
    with pytest.raises(ValueError, match="MESH_NOTICE_ESCALATE_AFTER='four hours'"):
        escalation.track([stale()], None, T0)


def test_escalation_contacts_come_from_domain_yaml():
    contacts = escalation.contacts(load_mesh(check_grants=False))
    assert contacts["sales-data"] == Contact("sales-leads", "sales-leads@example.com")  # domains/sales/domain.yaml
    assert contacts["support-ops"].team == "platform"  # declares none
