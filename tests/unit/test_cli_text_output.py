"""The CLI's text output says what its JSON says: audit entries with their details, and `mesh check`'s
summary counting the warnings it printed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from meshwork.core import audit
from tests.conftest import mesh_cli
from tests.integration.test_contract_versions import introduce_v2


def test_audit_list_shows_every_detail_of_an_entry_in_text_mode():
    audit.record(
        "retention.rows",
        product="customers/customer_profiles",
        column="signup_date",
        cutoff="2024-12-03",
        rows={"customers/customer_profiles@v1/s1": 12},
        retention="730d",
    )
    audit.record("port.read", consumer="marketing/customer_360", port="sales/orders@v1", snapshot="s9", run_id="r1")
    text = mesh_cli("audit", "list", "--action", "retention.rows", env=dict(os.environ))
    assert text.returncode == 0, text.stderr
    [line] = text.stdout.splitlines()
    assert "retention.rows" in line
    for detail in ("product=customers/customer_profiles", "column=signup_date", "cutoff=2024-12-03",
                   'rows={"customers/customer_profiles@v1/s1":12}', "retention=730d"):  # fmt: skip
        assert detail in line, line
    assert "hash=" not in line and "prev=" not in line  # the chain's fields are `mesh audit verify`'s
    read = mesh_cli("audit", "list", "--action", "port.read", env=dict(os.environ)).stdout
    assert "consumer=marketing/customer_360 port=sales/orders@v1 snapshot=s9 run_id=r1" in read  # usual ones first
    as_json = json.loads(mesh_cli("audit", "list", "--action", "retention.rows", "--json", env=dict(os.environ)).stdout)
    assert as_json[0]["rows"] == {"customers/customer_profiles@v1/s1": 12}


@pytest.mark.slow  # `mesh check` of a project copy: tens of seconds on a loaded machine
def test_mesh_check_counts_the_deprecation_warnings_it_prints(project: Path):
    introduce_v2(project)  # customers/customer_profiles@v1 deprecated since 2026-01-01, three consumers pin it
    result = mesh_cli("check", cwd=project, env={**os.environ, "MESH_PROJECT_DIR": str(project)})
    printed = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(printed) == 3, result.stderr
    policy_warnings = sum(1 for line in result.stdout.splitlines() if line.startswith("  WARN "))
    assert f"0 policy error(s), {policy_warnings + 3} warning(s)" in result.stdout, result.stdout
