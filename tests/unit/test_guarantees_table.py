"""tests/README.md maps each guarantee the README and the docs lead with to the tests that prove it:
every test it names must exist, every row must name one, and the README must link to the table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TABLE = "## Guarantees and the tests that prove them"
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def rows(text: str) -> list[str]:
    table = text[text.index(TABLE) :]
    return [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| guarantee")]


def missing(text: str) -> list[str]:
    """The named tests that do not exist, and rows that name none."""
    problems = []
    for row in rows(text):
        named = NAMED.findall(row)
        if not named and "docs/security.md" not in row:
            problems.append(f"names no test: {row[:80]}")
        for file, test in named:
            path = REPO / file
            if not path.is_file() or test not in _tests_in(path):
                problems.append(f"{file}::{test}")
    return problems


def test_every_test_the_guarantees_table_names_exists():
    text = (REPO / "tests/README.md").read_text(encoding="utf-8")
    assert len(rows(text)) >= 25
    assert missing(text) == []


def test_the_check_catches_a_test_that_does_not_exist_and_a_row_without_one():
    fake = (
        f"{TABLE}\n\n| guarantee | where | proved by |\n|---|---|---|\n"
        "| a | b | `tests/unit/test_suite_rules.py::test_no_assertion_compares_a_measured_time` |\n"
        "| c | d | `tests/unit/test_suite_rules.py::test_that_was_renamed` |\n"
        "| e | f | a sentence and no test |\n"
    )
    assert missing(fake) == [
        "tests/unit/test_suite_rules.py::test_that_was_renamed",
        "names no test: | e | f | a sentence and no test |",
    ]


def test_the_readme_and_the_docs_index_link_to_the_table():
    anchor = "tests/README.md#guarantees-and-the-tests-that-prove-them"
    assert anchor in (REPO / "README.md").read_text(encoding="utf-8")
    assert "../" + anchor in (REPO / "docs/index.md").read_text(encoding="utf-8")
