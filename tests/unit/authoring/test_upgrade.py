"""`mesh upgrade` turns contracts written in Meshwork's older forms into ones the ODCS schemas accept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from meshwork.authoring.upgrade import upgrade
from meshwork.governance.validation import validate_project
from meshwork.model.contracts import load_contract
from meshwork.model.rules import compile_rules
from tests.conftest import mesh_cli

LEGACY = {
    "sales/contracts/orders.odcs.yaml": [
        (
            'to: "../../customers/contracts/customer_profiles.odcs.yaml'
            '#/schema/customer_profiles/properties/customer_id"',
            "to: customers.customer_profiles.customer_id",
        ),
        (
            "quality:\n          - {metric: invalidValues, "
            "arguments: {validValues: [completed, cancelled, refunded]}, mustBe: 0}",
            "enum: [{value: completed}, {value: cancelled}, {value: refunded}]",
        ),
        ("    id: orders  # named by the foreign keys of other contracts\n", ""),
        ("{id: order_id, name: order_id,", "{name: order_id,"),
    ],
    "sales/contracts/order_lines.odcs.yaml": [
        ('to: "orders.odcs.yaml#/schema/orders/properties/order_id"', "to: sales.orders.order_id"),
    ],
}


def make_legacy(project: Path) -> None:
    for path in (project / "domains").glob("*/contracts/*.odcs.yaml"):
        path.write_text(path.read_text().replace("apiVersion: v3.1.0", "apiVersion: v3.0.2"))
    for rel, edits in LEGACY.items():
        path = project / "domains" / rel
        text = path.read_text()
        for new, old in edits:
            assert new in text, (rel, new)
            text = text.replace(new, old)
        path.write_text(text)


def rules_of(project: Path) -> dict[str, list[tuple[str, str, dict]]]:
    found = {}
    for path in sorted((project / "domains").glob("*/contracts/*.odcs.yaml")):
        key = f"{path.parent.parent.name}/{path.name.removesuffix('.odcs.yaml')}"
        contract, problems = load_contract(path, key)
        assert contract is not None, problems
        rules, problems = compile_rules(contract, key)
        assert problems == []
        found[key] = sorted((r.id, r.kind, r.params) for r in rules)
    return found


def test_older_forms_are_refused_with_a_pointer_to_the_upgrade(project: Path):
    make_legacy(project)
    problems = [str(p) for p in validate_project(project).problems]
    assert any("orders.odcs.yaml" in p and "'v3.0.2'" in p and "mesh upgrade" in p for p in problems), problems
    # Declared v3.1.0, the older forms fail the schema itself, again with the pointer.
    for path in (project / "domains").glob("*/contracts/*.odcs.yaml"):
        path.write_text(path.read_text().replace("apiVersion: v3.0.2", "apiVersion: v3.1.0"))
    problems = [str(p) for p in validate_project(project).problems]
    assert any("orders.odcs.yaml" in p and "ODCS v3.1.0 schema" in p and "mesh upgrade" in p for p in problems), (
        problems
    )


def test_the_upgrade_says_what_it_changed_and_the_mesh_loads_with_the_same_rules(project: Path):
    expected = rules_of(project)
    make_legacy(project)
    dry = upgrade(project, dry_run=True)
    assert not dry.written and validate_project(project).problems  # nothing written
    result = upgrade(project)
    changed = {f.path: f.changes for f in result.files}
    assert "apiVersion v3.0.2 -> v3.1.0" in changed["domains/finance/contracts/daily_revenue.odcs.yaml"]
    orders = changed["domains/sales/contracts/orders.odcs.yaml"]
    assert "status: enum -> quality invalidValues/validValues ['completed', 'cancelled', 'refunded']" in orders
    assert any(
        c.startswith("customer_id: foreign key customers.customer_profiles.customer_id -> ../../customers/")
        for c in orders
    )
    assert "order_id: id order_id (named by references)" in orders  # the target of order_lines' key
    assert any(
        "orders.odcs.yaml#/schema/orders/properties/order_id" in c
        for c in changed["domains/sales/contracts/order_lines.odcs.yaml"]
    )
    assert validate_project(project).problems == []
    assert rules_of(project) == expected  # the same guarantees, in the standard's forms
    data = yaml.safe_load((project / "domains/sales/contracts/orders.odcs.yaml").read_text())
    assert data["apiVersion"] == "v3.1.0" and "enum" not in str(data)
    assert upgrade(project).files == []  # a second run has nothing to do


def test_the_command_reports_in_json_and_exits_0(project: Path):
    make_legacy(project)
    env = {**os.environ, "MESH_PROJECT_DIR": str(project)}
    done = mesh_cli("upgrade", "--json", env=env, cwd=project)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["written"] is True and report["problems"] == []
    assert {f["path"] for f in report["files"]} >= {"domains/sales/contracts/orders.odcs.yaml"}
