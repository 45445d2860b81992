"""ODCS v3 data contracts, one per output port.

Parsed with the official ``open-data-contract-standard`` pydantic model and validated against the
JSON schema that ships with it, then checked for what Meshwork needs to enforce a contract: a
semantic version (its major is the port version), one schema object named after the product, and
for every column a safe name and a DuckDB physical type.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema_rs
from open_data_contract_standard.model import OpenDataContractStandard, SchemaProperty
from pydantic import ValidationError

from meshwork.core.errors import Problem
from meshwork.core.names import IDENTIFIER, SQL_TYPE
from meshwork.model.descriptors import pydantic_problems, read_yaml

if TYPE_CHECKING:
    import jsonschema

# \Z, not $: Python's $ also matches before a final newline.
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.-]+)?\Z")


@dataclass(frozen=True)
class Column:
    name: str
    physical_type: str
    logical_type: str | None
    description: str | None
    required: bool
    unique: bool
    primary_key: bool
    classification: str | None
    prop: SchemaProperty


@dataclass(frozen=True)
class Contract:
    path: Path
    model: OpenDataContractStandard
    columns: tuple[Column, ...]

    @property
    def id(self) -> str:
        return self.model.id or ""

    @property
    def version(self) -> str:
        return self.model.version or ""

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def schema_object(self):
        assert self.model.schema_
        return self.model.schema_[0]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


# The official ODCS JSON schema as the open-data-contract-standard package ships it: that package's
# 3.1.x releases carry the schema of the ODCS v3.1.0 release byte for byte (its Apache-2.0 license is
# in the package's metadata). A contract declaring another version is refused, not half-checked.
SCHEMA = resources.files("open_data_contract_standard").joinpath("schema.json")


@functools.cache
def _shipped_version() -> str:
    return str(json.loads(SCHEMA.read_text(encoding="utf-8"))["properties"]["apiVersion"]["default"])


def released() -> tuple[str, ...]:
    """The ODCS versions Meshwork validates contracts against (those whose schema is installed)."""
    return (_shipped_version(),)


def _schema_file(api_version: str):
    if api_version not in released():
        raise ValueError(f"no ODCS schema for {api_version}")
    return SCHEMA


@functools.cache
def _validator(api_version: str) -> jsonschema.protocols.Validator:
    # Deferred: only a contract the Rust validator refuses needs it (its import is ~0.1 s of a load).
    import jsonschema

    schema = json.loads(_schema_file(api_version).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


@functools.cache
def _fast_validator(api_version: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(json.loads(_schema_file(api_version).read_text(encoding="utf-8")))


def _schema_errors(data: dict, api_version: str) -> list[jsonschema.ValidationError]:
    """Errors of ``data`` against the official schema of the ODCS version it declares.

    The Rust validator decides a pass (~0.1 ms a contract; the pure-Python one takes ~15 ms, which was
    most of loading a mesh for the first time); a document it rejects, or cannot take (a YAML date is
    not JSON), goes through the Python validator, whose errors are the ones reported. So a contract is
    accepted only when the Rust validator passes it or the Python one finds nothing wrong
    (tests/unit/model/test_contract_schema_validators.py checks the two agree).
    """
    try:
        if _fast_validator(api_version).is_valid(data):
            return []
    except (ValueError, TypeError):
        pass
    return sorted(_validator(api_version).iter_errors(data), key=lambda e: list(e.absolute_path))


def _json_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def load_contract(path: Path, product: str) -> tuple[Contract | None, list[Problem]]:
    """Load ``path`` as the contract of ``product`` (``domain/name``); never raises on bad input."""
    data, problems = read_yaml(path)
    if data is None:
        return None, [Problem(p.reason, file=p.file, product=product) for p in problems]
    # The ODCS JSON schema picks per-logicalType rules with if/then; without a logicalType its
    # errors are misleading ("'map' is a required property"), so say what is really missing first.
    untyped = [
        Problem(
            "every property needs a logicalType (string, integer, number, date, timestamp, boolean, …)",
            file=path,
            field=f"schema.{i}.properties.{j}.logicalType",
            product=product,
        )
        for i, obj in enumerate(data.get("schema") or [] if isinstance(data.get("schema"), list) else [])
        for j, prop in enumerate((obj or {}).get("properties") or [] if isinstance(obj, dict) else [])
        if isinstance(prop, dict) and "logicalType" not in prop
    ]
    if untyped:
        return None, untyped
    api_version = data.get("apiVersion")
    if api_version not in released():
        older = isinstance(api_version, str) and api_version.startswith("v3.0.")
        return None, [
            Problem(
                f"apiVersion {api_version!r} is not the ODCS version Meshwork validates contracts against "
                f"({', '.join(released())}, the official schema in the open-data-contract-standard package)"
                + ("; `mesh upgrade` moves a contract to it" if older else ""),
                file=path,
                field="apiVersion",
                product=product,
            )
        ]
    schema_errors = _schema_errors(data, api_version)
    # The ODCS schema reports some errors once per branch it tried: keep one of each.
    schema_errors = list({(_json_path(e), e.message): e for e in schema_errors}.values())
    if schema_errors:
        # Forms Meshwork itself once wrote (property enum, <domain>.<product>.<column> foreign keys).
        legacy = any("'enum'" in e.message or ".relationships." in _json_path(e) for e in schema_errors)
        hint = " (an older Meshwork form: `mesh upgrade` rewrites it)" if legacy else ""
        return None, [
            Problem(f"ODCS {api_version} schema: {e.message}{hint}", file=path, field=_json_path(e), product=product)
            for e in schema_errors[:10]
        ]
    try:
        model = OpenDataContractStandard.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(exc, path, product)

    problems = []

    def bad(field: str, reason: str) -> None:
        problems.append(Problem(reason, file=path, field=field, product=product))

    if not (model.apiVersion or "").startswith("v3."):
        bad("apiVersion", f"Meshwork reads ODCS v3 contracts, this one is '{model.apiVersion}'")
    if not _SEMVER.match(model.version or ""):
        bad("version", f"'{model.version}' is not a semantic version (MAJOR.MINOR.PATCH)")
    if model.status not in {"draft", "active", "deprecated", "retired", "proposed"}:
        bad("status", f"unknown status '{model.status}'")
    if not model.schema_ or len(model.schema_) != 1:
        bad("schema", "a port contract describes exactly one schema object (the product's table)")
        return None, problems
    obj = model.schema_[0]
    expected = product.split("/")[1]
    if obj.name != expected:
        bad("schema.0.name", f"the schema object must be named after the product '{expected}', not '{obj.name}'")
    columns = []
    seen: set[str] = set()
    for i, prop in enumerate(obj.properties or []):
        where = f"schema.0.properties.{i}"
        if not prop.name or not IDENTIFIER.match(prop.name):
            bad(f"{where}.name", f"{prop.name!r} is not a valid column name (lower-case letters, digits, '_')")
            continue
        if prop.name in seen:
            bad(f"{where}.name", f"column '{prop.name}' is declared twice")
        seen.add(prop.name)
        if not prop.physicalType or not SQL_TYPE.match(prop.physicalType):
            bad(f"{where}.physicalType", f"column '{prop.name}' needs a DuckDB physicalType such as BIGINT")
            continue
        columns.append(
            Column(
                name=prop.name,
                physical_type=prop.physicalType.strip(),
                logical_type=prop.logicalType,
                description=prop.description,
                required=bool(prop.required or prop.primaryKey),
                unique=bool(prop.unique),
                primary_key=bool(prop.primaryKey),
                classification=prop.classification,
                prop=prop,
            )
        )
    if not columns and not problems:
        bad("schema.0.properties", "the contract declares no columns")
    if problems:
        return None, problems
    return Contract(path=path, model=model, columns=tuple(columns)), []
