"""The catalog's hand-drawn SVG (escaping, layered layout) and the gate-history parsing it relies on."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from meshwork.catalog import charts
from meshwork.catalog.render import format_duration
from meshwork.runtime import history


def test_chart_and_graph_text_is_escaped():
    evil = "<script>alert(1)</script>"
    svg = charts.bar_chart([(evil, 3)], title=evil) + charts.layered_graph([charts.Node(id=evil, label=evil)], [])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_a_layered_graph_puts_every_node_right_of_its_producers():
    nodes = [charts.Node(id=n, label=n) for n in ("a", "b", "c", "d")]
    svg = charts.layered_graph(nodes, [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")])
    x = {m.group(1): float(m.group(2)) for m in re.finditer(r'data-id="(\w)"><rect x="([\d.]+)"', svg)}
    assert x["a"] < x["b"] < x["c"] < x["d"]
    assert svg.count('class="edge"') == 4


def test_durations_read_like_a_person_would_write_them():
    assert [format_duration(s) for s in (42, 90, 3600, 5400, 93600)] == ["42s", "1m 30s", "1h", "1h 30m", "1d 2h"]


def test_gate_results_are_read_from_the_markdown_of_older_evaluations():
    text = (
        "**sales/orders@v1** — FAILED, 10 rows\n"
        "- ✅ `order_id.not_null`: 'order_id' is never empty\n"
        "- ❌ `order_id.unique`: 'order_id' is unique — 3 failing row(s)\n"
        "- ⚠️ `amount.range`: 'amount' is at least 0 — 1 failing row(s) (detail)\n"
    )
    outcomes = history._parse_markdown(text)
    assert [(o.rule, o.passed, o.severity, o.failing_rows) for o in outcomes] == [
        ("order_id.not_null", True, "error", None),
        ("order_id.unique", False, "error", 3),
        ("amount.range", False, "warn", 1),
    ]
    assert {o.port for o in outcomes} == {"sales/orders@v1"}


def test_snapshot_ids_carry_their_publish_time():
    assert history.snapshot_time("20261123T225150337039Z-8e1761bf") == datetime(
        2026, 11, 23, 22, 51, 50, 337039, tzinfo=UTC
    )
    assert history.snapshot_time("garbage") is None


def test_a_time_series_is_drawn_from_its_second_point_and_says_so_before():
    t0, t1 = datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 1, 10, tzinfo=UTC)
    one = charts.line_chart([(t0, 97.5)], title="pass rate", unit="%", y_max=100)
    assert "<circle" not in one and "<path" not in one  # no lone dot posing as a trend
    assert "pass rate: one point so far (97.50% at 2026-03-01 09:00); drawn from the second" in one
    two = charts.line_chart([(t0, 97.5), (t1, 100.0)], title="pass rate", unit="%", y_max=100)
    assert two.count("<circle") == 2 and two.count("<path") == 1
    assert "no data yet" in charts.line_chart([], title="pass rate")


def test_a_bar_chart_keeps_zero_values_as_labelled_rows():
    svg = charts.bar_chart([("finance/daily_revenue@v1", 0), ("sales/orders@v1", 2)], title="consumers")
    labels = re.findall(r'class="chart-label">([^<]+)</text>', svg)
    assert labels == ["finance/daily_revenue@v1", "sales/orders@v1"]
    assert re.findall(r'class="chart-value">([^<]+)</text>', svg) == ["0", "2"]
