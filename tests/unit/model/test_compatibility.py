"""Each kind of contract change is classified compatible or breaking, as consumers experience it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from meshwork.model.compatibility import diff
from meshwork.model.contracts import load_contract

BASE = """
apiVersion: v3.1.0
kind: DataContract
id: sales.orders
version: 1.0.0
status: active
schema:
  - name: orders
    properties:
      - {name: order_id, logicalType: integer, physicalType: INTEGER, primaryKey: true, required: true, unique: true}
      - name: status
        logicalType: string
        physicalType: VARCHAR
        required: true
        quality: [{metric: invalidValues, arguments: {validValues: [completed, cancelled]}, mustBe: 0}]
      - name: qty
        logicalType: integer
        physicalType: INTEGER
        logicalTypeOptions: {minimum: 1, maximum: 100}
      - name: amount
        logicalType: number
        physicalType: "DECIMAL(12,2)"
      - name: code
        logicalType: string
        physicalType: VARCHAR
        logicalTypeOptions: {pattern: "^[A-Z]{3}$"}
"""


def contract(tmp_path: Path, text: str, name: str):
    path = tmp_path / f"{name}.odcs.yaml"
    path.write_text(textwrap.dedent(text))
    loaded, problems = load_contract(path, "sales/orders")
    assert loaded and not problems, problems
    return loaded


CASES = [
    # (description, old -> new edit, expected change kind, breaking?)
    ("column removed", ("      - {name: order_id", "      - {name: order_ref"), "column removed", True),
    ("type narrowed", ('physicalType: "DECIMAL(12,2)"', "physicalType: INTEGER"), "type changed", True),
    ("type widened", ("physicalType: INTEGER, primaryKey", "physicalType: BIGINT, primaryKey"), "type changed", False),
    ("decimal widened", ("DECIMAL(12,2)", "DECIMAL(18,2)"), "type changed", False),
    ("not-null dropped", ("        required: true\n        quality", "        quality"), "guarantee dropped", True),
    (
        "uniqueness dropped",
        ("primaryKey: true, required: true, unique: true}", "required: true}"),
        "primary key changed",
        True,
    ),
    ("range widened", ("{minimum: 1, maximum: 100}", "{minimum: 0, maximum: 100}"), "guarantee loosened", True),
    ("range tightened", ("{minimum: 1, maximum: 100}", "{minimum: 1, maximum: 50}"), None, False),
    ("new allowed value", ("[completed, cancelled]}", "[completed, cancelled, lost]}"), "guarantee loosened", True),
    ("allowed value removed", ("[completed, cancelled]}", "[completed]}"), None, False),
    ("pattern changed", ("^[A-Z]{3}$", "^[A-Z]{2,3}$"), "guarantee loosened", True),
    (
        "column added",
        (
            "      - name: code\n",
            "      - {name: note, logicalType: string, physicalType: VARCHAR}\n      - name: code\n",
        ),
        "column added",
        False,
    ),
]


@pytest.mark.parametrize("label, edit, kind, breaking", CASES, ids=[c[0] for c in CASES])
def test_change_classification(label, edit, kind, breaking, tmp_path: Path):
    old_text = textwrap.dedent(BASE)
    assert edit[0] in old_text, label
    old = contract(tmp_path, old_text, "old")
    new = contract(tmp_path, old_text.replace(edit[0], edit[1]), "new")
    changes = diff(old, new, "sales/orders")
    assert any(c.breaking for c in changes) == breaking, (label, changes)
    if kind:
        assert any(c.kind == kind for c in changes), (label, changes)


def test_a_renamed_column_is_breaking_even_though_a_column_was_added(tmp_path: Path):
    old_text = textwrap.dedent(BASE)
    old = contract(tmp_path, old_text, "old")
    new = contract(tmp_path, old_text.replace("name: qty", "name: quantity"), "new")
    kinds = {(c.kind, c.breaking) for c in diff(old, new, "sales/orders")}
    assert ("column removed", True) in kinds and ("column added", False) in kinds


def test_an_unchanged_contract_has_no_changes(tmp_path: Path):
    text = textwrap.dedent(BASE)
    assert diff(contract(tmp_path, text, "a"), contract(tmp_path, text, "b"), "sales/orders") == []
