"""`mesh audit verify` on a damaged log: the same problems as `audit.verify()`, line for line in text and in
`--json`, and exit 1; an untouched log exits 0. (The damage itself: test_audit_damage.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from meshwork.core import audit
from tests.conftest import mesh_cli


@pytest.fixture
def log() -> Path:
    for i in range(5):
        audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot=f"s{i}")
    return audit.log_path()


def verify_json() -> tuple[int, dict]:
    result = mesh_cli("audit", "verify", "--json")
    return result.returncode, json.loads(result.stdout)


def test_an_untouched_log_exits_0():
    for i in range(3):
        audit.record("port.read", snapshot=f"s{i}")
    assert verify_json() == (0, {"ok": True, "problems": [], "entries": 3})
    text = mesh_cli("audit", "verify")
    assert (text.returncode, text.stdout.strip()) == (0, "OK: 3 entries, chain intact")


def test_an_unreadable_middle_line_is_named_in_text_and_json_and_the_log_still_listed(log):
    rows = log.read_text().splitlines()
    rows[2] = "garbage"
    log.write_text("".join(row + "\n" for row in rows))
    expected = [f"{log} line 3: not JSON (Expecting value at column 1)"]
    text = mesh_cli("audit", "verify")
    assert (text.returncode, text.stdout.splitlines(), text.stderr) == (1, expected, "")
    assert verify_json() == (1, {"ok": False, "problems": expected, "entries": 4})
    listed = mesh_cli("audit", "list", "--json")
    assert listed.returncode == 0 and [e["snapshot"] for e in json.loads(listed.stdout)] == ["s0", "s1", "s3", "s4"]


def _delete(name: str) -> Callable[[], None]:
    return lambda: audit.governance_file(name).unlink()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            _delete(audit.CHECKPOINTS),
            "{checkpoints} is missing (it was deleted), but the log has 5 lines for its checkpoints to cover",
        ),
        (
            lambda: audit.governance_file(audit.CHECKPOINTS).write_text(""),
            "{checkpoints} holds no checkpoint (it was emptied), but the log has 5 lines for its checkpoints to cover",
        ),
        (
            _delete(audit.HEAD),
            "there is no signed head: nothing shows that the log was not truncated, rewritten or "
            "appended to (the head was deleted)",
        ),
        (_delete(audit.KEY), "the signing key {key} is missing (it was deleted)"),
    ],
    ids=["checkpoints-deleted", "checkpoints-emptied", "head-deleted", "key-deleted"],
)
def test_a_governance_file_deleted_or_emptied_is_named_and_exits_1(log, damage, expected):
    damage()
    problem = expected.format(
        checkpoints=audit.governance_file(audit.CHECKPOINTS), key=audit.governance_file(audit.KEY)
    )
    assert audit.verify() == [problem]
    assert verify_json() == (1, {"ok": False, "problems": [problem], "entries": 5})
    text = mesh_cli("audit", "verify")
    assert (text.returncode, text.stdout.splitlines()) == (1, [problem])
