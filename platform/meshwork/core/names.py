"""Naming rules shared by descriptors, contracts and storage paths.

Names become file paths, SQL identifiers and Dagster asset keys, so they are restricted to a safe
alphabet at load: a name with a quote, a path separator or a SQL fragment never gets further.
"""

from __future__ import annotations

import re

# Each rule ends in \Z, not $: Python's $ also matches before a final newline, so "sales\n" would pass.
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}\Z")
TEAM = re.compile(r"^[a-z][a-z0-9_-]{0,62}\Z")
MAJOR = re.compile(r"^v([1-9][0-9]{0,3})\Z")
# A DuckDB type as written in a contract: a name, optionally with precision/scale (no expressions).
SQL_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]{0,40}(\(\s*\d{1,3}\s*(,\s*\d{1,3}\s*)?\))?(\[\])?\Z")


def pydantic_pattern(rule: re.Pattern[str]) -> str:
    """``rule`` for a pydantic ``Field(pattern=…)``: its Rust regex knows no \\Z, and its $ is the end of the text."""
    return rule.pattern.removesuffix(r"\Z") + "$"


def check_identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"'{value}' is not a valid name: use lower-case letters, digits and '_', starting with a letter"
        )
    return value


def quote(identifier: str) -> str:
    """Quote an identifier that has already passed :func:`check_identifier`."""
    return '"' + check_identifier(identifier) + '"'


def parse_major(version: str) -> int:
    m = MAJOR.match(version)
    if not m:
        raise ValueError(f"'{version}' is not a major version: write it as v1, v2, …")
    return int(m.group(1))
