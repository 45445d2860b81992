"""Each contract is validated against the official schema of the ODCS version it declares."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from meshwork.model.contracts import SCHEMA, load_contract, released
from tests.conftest import REPO

# sha256 of schema/odcs-json-schema-v3.1.0.json at the standard's v3.1.0 release tag
# (bitol-io/open-data-contract-standard): the package must ship exactly that file.
OFFICIAL_V3_1_0 = "2cb7dd6fe43344d2233e0406438622681dc3ebadcf8f0d606a15b40c8f6752c0"

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


def test_the_schema_is_the_official_release_of_the_version_validated():
    assert released() == ("v3.1.0",)
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == OFFICIAL_V3_1_0


def test_a_contract_breaking_the_schema_of_its_version_fails_with_file_and_field(tmp_path: Path):
    contract, problems = load_contract(write(tmp_path, "v3.1.0", at_type="datetime"), "sales/events")
    assert contract is None
    assert [(p.field, "ODCS v3.1.0 schema" in p.reason and "'datetime'" in p.reason) for p in problems] == [
        ("schema.0.properties.1.logicalType", True)
    ]
    contract, problems = load_contract(write(tmp_path, "v3.1.0"), "sales/events")
    assert problems == [] and contract is not None


@pytest.mark.parametrize("version", ["v3.0.2", "v3.2.0", "v2.2.2", "3.1.0", "latest"])
def test_a_version_whose_schema_is_not_validated_is_refused(tmp_path: Path, version: str):
    contract, problems = load_contract(write(tmp_path, version), "sales/events")
    assert contract is None
    [problem] = problems
    assert problem.field == "apiVersion" and "v3.1.0" in problem.reason and repr(version) in problem.reason
    assert ("mesh upgrade" in problem.reason) == version.startswith("v3.0.")


def test_every_example_contract_satisfies_the_schema_of_the_version_it_declares():
    contracts = sorted((REPO / "domains").glob("*/contracts/*.odcs.yaml"))
    assert len(contracts) == 7
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    for path in contracts:
        data = yaml.safe_load(path.read_text())
        assert data["apiVersion"] in released(), path
        errors = list(validator.iter_errors(data))  # not through Meshwork's cache of passes
        assert errors == [], (path.name, [e.message for e in errors])
