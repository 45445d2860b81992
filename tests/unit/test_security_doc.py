"""docs/security.md names a test for every threat it claims to stop: each named test must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_every_test_the_threat_table_names_exists():
    text = (REPO / "docs/security.md").read_text(encoding="utf-8")
    files = {p.name: p for p in (REPO / "tests").rglob("test_*.py")}
    named = re.findall(r"`((?:tests/[\w/]+/)?(test_\w+\.py))(?:::(test_\w+))?`", text)
    assert len(named) >= 15, named
    for full, name, test in named:
        path = REPO / full if full.startswith("tests/") else files.get(name)
        assert path is not None and path.exists(), f"docs/security.md names {full}, which does not exist"
        if test:
            assert test in _tests_in(path), f"docs/security.md names {full}::{test}, which does not exist"
