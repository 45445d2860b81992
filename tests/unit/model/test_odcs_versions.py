"""Each contract is validated against the official schema of the ODCS version it declares."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from meshwork.model.contracts import RELEASED, SCHEMAS, load_contract
from tests.conftest import REPO

CONTRACT = """\
apiVersion: {version}
kind: DataContract
id: sales.events
version: 1.0.0
status: active
schema:
  - name: events
    properties:
      - {{name: id, logicalType: integer, physicalType: BIGINT, primaryKey: true, required: true}}
      - {{name: at, logicalType: {at_type}, physicalType: TIMESTAMP}}
"""


def write(tmp_path: Path, version: str, at_type: str = "timestamp") -> Path:
    path = tmp_path / "events.odcs.yaml"
    path.write_text(CONTRACT.format(version=version, at_type=at_type))
    return path


def test_a_feature_of_a_later_version_fails_against_the_version_declared(tmp_path: Path):
    # logicalType timestamp arrived in ODCS v3.1.0: a v3.0.2 contract may not use it.
    contract, problems = load_contract(write(tmp_path, "v3.0.2"), "sales/events")
    assert contract is None
    assert [(p.field, "ODCS v3.0.2 schema" in p.reason and "'timestamp'" in p.reason) for p in problems] == [
        ("schema.0.properties.1.logicalType", True)
    ]
    contract, problems = load_contract(write(tmp_path, "v3.1.0"), "sales/events")
    assert problems == [] and contract is not None
    contract, problems = load_contract(write(tmp_path, "v3.0.2", at_type="date"), "sales/events")
    assert problems == [] and contract is not None


@pytest.mark.parametrize("version", ["v3.2.0", "v2.2.2", "3.1.0", "latest"])
def test_a_version_whose_schema_does_not_ship_is_refused(tmp_path: Path, version: str):
    contract, problems = load_contract(write(tmp_path, version), "sales/events")
    assert contract is None
    [problem] = problems
    assert problem.field == "apiVersion" and "v3.1.0" in problem.reason and repr(version) in problem.reason


def test_every_example_contract_satisfies_the_schema_of_the_version_it_declares():
    contracts = sorted((REPO / "domains").glob("*/contracts/*.odcs.yaml"))
    assert len(contracts) == 7
    for path in contracts:
        data = yaml.safe_load(path.read_text())
        assert data["apiVersion"] in RELEASED, path
        schema = json.loads(SCHEMAS.joinpath(f"odcs-json-schema-{data['apiVersion']}.json").read_text())
        errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(data))  # no cache
        assert errors == [], (path.name, [e.message for e in errors])


def test_the_shipped_schemas_are_the_official_releases_with_their_license():
    for version in RELEASED:
        schema = json.loads(SCHEMAS.joinpath(f"odcs-json-schema-{version}.json").read_text())
        assert schema["title"] == "Open Data Contract Standard (ODCS)"
        assert version in schema["properties"]["apiVersion"]["enum"]
    assert "Apache License" in SCHEMAS.joinpath("LICENSE").read_text()
