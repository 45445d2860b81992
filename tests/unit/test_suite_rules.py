"""Rules the test suite keeps about itself: no assertion depends on how fast this machine is."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
CLOCKS = {"monotonic", "perf_counter", "time", "process_time", "monotonic_ns", "perf_counter_ns"}
TIMED_NAMES = {"elapsed", "duration", "took", "seconds_taken", "wall"}


def _timed(node: ast.AST) -> str | None:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in TIMED_NAMES:
            return sub.id
        clock = isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr in CLOCKS
        if clock and isinstance(sub.func.value, ast.Name) and sub.func.value.id == "time":  # type: ignore[attr-defined]
            return f"time.{sub.func.attr}()"  # type: ignore[attr-defined]
    return None


def test_no_assertion_compares_a_measured_time():
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) and (what := _timed(node.test)):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}: asserts on {what}")
    assert found == [], "timed assertions belong in benchmarks/, not tests:\n" + "\n".join(found)


def test_the_rule_catches_a_timed_assertion():
    bad = ast.parse("assert elapsed < 2.5\nassert time.monotonic() - t0 < 1\nassert rows == 3\n")
    flagged = [n.lineno for n in ast.walk(bad) if isinstance(n, ast.Assert) and _timed(n.test)]
    assert flagged == [1, 2]
