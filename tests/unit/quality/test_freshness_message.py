"""A stale column's message says its age in the SLA notation (2d 2h), not in rounded hours ("0.0h")."""

from __future__ import annotations

from tests.unit.quality.test_quality_rules import con, contract, validate  # noqa: F401 (fixtures)


def test_a_stale_column_says_how_old_it_is_in_days_and_hours(con, contract):  # noqa: F811 (fixtures)
    con.execute("UPDATE items SET updated_at = (now() AT TIME ZONE 'UTC') - INTERVAL 50 HOUR")
    failed = {r.rule.id: r for r in validate(con, contract).failures}
    detail = failed["updated_at.freshness"].detail
    assert detail.endswith(", 2d 2h old"), detail
