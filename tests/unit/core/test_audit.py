"""The audit log is hash-chained: any edited, removed or reordered line is detected."""

from __future__ import annotations

import json

import pytest

from meshwork.core import audit


@pytest.fixture
def log():
    for i in range(5):
        audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot=f"s{i}")
    return audit.log_path()


def test_an_untouched_log_verifies(log):
    assert audit.verify() == []
    assert [e["snapshot"] for e in audit.entries("port.read")] == ["s0", "s1", "s2", "s3", "s4"]


def test_an_edited_line_is_detected(log):
    lines = log.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["consumer"] = "marketing/customer_360"
    lines[2] = json.dumps(entry, sort_keys=True)
    log.write_text("\n".join(lines) + "\n")
    assert audit.verify() == ["line 3: its content does not match its hash (the line was edited)"]


def test_a_removed_line_is_detected(log):
    lines = log.read_text().splitlines()
    del lines[1]
    log.write_text("\n".join(lines) + "\n")
    assert audit.verify()[0].startswith("line 2: does not follow line 1")


def test_reordered_lines_are_detected(log):
    lines = log.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    log.write_text("\n".join(lines) + "\n")
    assert audit.verify()[0].startswith("line 2: does not follow")


def test_a_rehashed_forgery_still_breaks_the_chain_after_it(log):
    lines = log.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["snapshot"] = "forged"
    entry["hash"] = audit._digest(entry)  # the forger recomputes this line's hash…
    lines[1] = json.dumps(entry, sort_keys=True)
    log.write_text("\n".join(lines) + "\n")
    assert audit.verify()[0].startswith("line 3: does not follow")  # …but the next line still points at the old one


def test_mesh_audit_verify_exits_1_on_tampering_and_lists_entries(log):
    from tests.conftest import mesh_cli

    ok = mesh_cli("audit", "verify", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["entries"] == 5
    listed = mesh_cli("audit", "list", "--action", "port.read", "--json")
    assert [e["snapshot"] for e in json.loads(listed.stdout)] == ["s0", "s1", "s2", "s3", "s4"]
    log.write_text(log.read_text().replace('"s3"', '"s9"'))
    bad = mesh_cli("audit", "verify")
    assert bad.returncode == 1 and "line 4" in bad.stdout
