"""The Rust ODCS schema validator that decides a pass agrees with the Python one that words the errors.

A contract is accepted when jsonschema-rs passes it (~0.1 ms); otherwise the Python jsonschema
validator, the reference, is asked, and its errors are the ones reported. These tests hold the two to
the same verdict on every example contract and on documents broken in each way the schema checks
(types, enums, required keys, unknown keys at each level, per-logicalType rules, quality, SLA,
relationships, servers, team, custom properties).
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from meshwork.model import contracts
from tests.conftest import REPO

EXAMPLES = sorted(REPO.glob("domains/*/contracts/*.odcs.yaml"))


def python_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(contracts.SCHEMA.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def example() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLES[0].read_text())


def prop(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["schema"][0]["properties"][0]


BREAKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "status of the wrong type": lambda d: d.update(status=5),
    "version of the wrong type": lambda d: d.update(version=1),
    "unknown kind": lambda d: d.update(kind="Contract"),
    "unknown top-level key": lambda d: d.update(owner="someone"),
    "missing id": lambda d: d.pop("id"),
    "missing version": lambda d: d.pop("version"),
    "schema not a list": lambda d: d.update(schema={"name": "x"}),
    "description not an object": lambda d: d.update(description="text"),
    "tags not a list": lambda d: d.update(tags="core"),
    "unknown key on a schema object": lambda d: d["schema"][0].update(rows=5),
    "unknown key on a property": lambda d: prop(d).update(nullable=True),
    "unknown logicalType": lambda d: prop(d).update(logicalType="datetime"),
    "logicalTypeOptions of another type": lambda d: prop(d).update(
        logicalType="integer", logicalTypeOptions={"maxLength": 3}
    ),
    "required not a boolean": lambda d: prop(d).update(required="yes"),
    "property without a name": lambda d: prop(d).pop("name"),
    "quality rule of the wrong type": lambda d: d["schema"][0].update(quality="rowCount > 0"),
    "quality rule with an unknown key": lambda d: d["schema"][0].update(quality=[{"metric": "rowCount", "x": 1}]),
    "sla property without value": lambda d: d.update(slaProperties=[{"property": "latency"}]),
    "server without type": lambda d: d.update(servers=[{"server": "prod"}]),
    "team of the wrong type": lambda d: d.update(team="sales"),
    "custom property without its name": lambda d: d.update(customProperties=[{"value": 1}]),
    "relationship of the wrong type": lambda d: prop(d).update(relationships="orders.id"),
    "a YAML date where a string belongs": lambda d: d.update(version=datetime.date(2024, 5, 1)),
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_both_validators_pass_every_example_contract(path: Path):
    doc = yaml.safe_load(path.read_text())
    assert contracts._fast_validator("v3.1.0").is_valid(doc)
    assert list(python_validator().iter_errors(doc)) == []
    assert contracts._schema_errors(doc, "v3.1.0") == []


@pytest.mark.parametrize("name", list(BREAKS))
def test_both_validators_refuse_a_broken_contract_and_the_python_errors_are_reported(name: str):
    doc = copy.deepcopy(example())
    BREAKS[name](doc)
    expected = sorted(python_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert expected, f"the reference validator must refuse: {name}"
    try:
        fast = contracts._fast_validator("v3.1.0").is_valid(doc)
    except (ValueError, TypeError):
        fast = False  # a value JSON has no type for: the Python validator decides
    assert fast is False
    found = contracts._schema_errors(doc, "v3.1.0")
    assert [(list(e.absolute_path), e.message) for e in found] == [(list(e.absolute_path), e.message) for e in expected]
