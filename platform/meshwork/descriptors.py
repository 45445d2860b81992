"""Domain and product descriptors: the YAML a domain team writes, validated with pydantic.

A product descriptor is shaped after the Bitol Open Data Product Standard (id, name, domain, status,
description, team, input and output ports, tags) plus what a mesh platform needs to run it
(``productKind``, ``implementation``, ``sla``). Unknown keys are errors, so a typo never passes
silently.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from meshwork.errors import Problem
from meshwork.names import IDENTIFIER, TEAM, parse_major

Identifier = Annotated[str, Field(pattern=IDENTIFIER.pattern)]
TeamName = Annotated[str, Field(pattern=TEAM.pattern)]
M = TypeVar("M", bound=BaseModel)
_DURATION = re.compile(r"^(\d+)\s*(m|h|d)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProductKind(StrEnum):
    SOURCE_ALIGNED = "source-aligned"
    AGGREGATE = "aggregate"
    CONSUMER_ALIGNED = "consumer-aligned"


class Visibility(StrEnum):
    PUBLIC = "public"  # readable by every product in the company
    RESTRICTED = "restricted"  # readable with a grant
    PRIVATE = "private"  # readable inside the owning domain only


class Owner(Strict):
    team: TeamName
    email: str | None = None

    @property
    def dagster_owner(self) -> str:
        return f"team:{self.team}"


class DomainDescriptor(Strict):
    name: Identifier
    description: str = Field(min_length=1)
    owner: Owner


class Description(Strict):
    purpose: str = Field(min_length=1)
    usage: str | None = None
    limitations: str | None = None


class Implementation(Strict):
    engine: Literal["dbt", "python"]
    # dbt: the model's name (default: the product's name). python: "module:function" relative to
    # the domain package (default: "products.<product>:build").
    model: Identifier | None = None
    entrypoint: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Implementation:
        if self.engine == "dbt" and self.entrypoint:
            raise ValueError("a dbt implementation names a 'model', not an 'entrypoint'")
        if self.engine == "python" and self.model:
            raise ValueError("a python implementation names an 'entrypoint', not a 'model'")
        return self


class InputPort(Strict):
    """A dependency on another product's output port, pinned to a major version."""

    product: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")]
    version: str = "v1"

    @field_validator("version")
    @classmethod
    def _major(cls, v: str) -> str:
        parse_major(v)
        return v

    @property
    def domain(self) -> str:
        return self.product.split("/")[0]

    @property
    def name(self) -> str:
        return self.product.split("/")[1]

    @property
    def major(self) -> int:
        return parse_major(self.version)

    @property
    def ref(self) -> str:
        return f"{self.product}@{self.version}"


class OutputPort(Strict):
    contract: str = Field(min_length=1, description="path of the ODCS contract, relative to the descriptor")
    visibility: Visibility = Visibility.PUBLIC
    deprecated_after: date | None = Field(default=None, alias="deprecatedAfter")
    removed_after: date | None = Field(default=None, alias="removedAfter")


class Sla(Strict):
    freshness: str = Field(description="maximum age of the latest snapshot, e.g. 26h, 90m, 2d")
    schedule: str | None = Field(default=None, description="cron for source-aligned products")

    @field_validator("freshness")
    @classmethod
    def _duration(cls, v: str) -> str:
        if not _DURATION.match(v):
            raise ValueError(f"'{v}' is not a duration: write e.g. 90m, 26h or 2d")
        return v

    @property
    def freshness_window(self) -> timedelta:
        m = _DURATION.match(self.freshness)
        assert m
        n, unit = int(m.group(1)), m.group(2)
        return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]


class ProductDescriptor(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["v1.0.0"] = Field(alias="apiVersion")
    kind: Literal["DataProduct"]
    id: str
    name: Identifier
    domain: Identifier
    status: Literal["draft", "active", "deprecated", "retired"] = "active"
    product_kind: ProductKind = Field(alias="productKind")
    description: Description
    owner: Owner | None = Field(default=None, description="defaults to the domain's owner")
    implementation: Implementation
    input_ports: list[InputPort] = Field(default_factory=list, alias="inputPorts")
    output_ports: list[OutputPort] = Field(min_length=1, alias="outputPorts")
    sla: Sla
    tags: list[Identifier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ProductDescriptor:
        if self.id != f"{self.domain}.{self.name}":
            raise ValueError(f"id must be '{self.domain}.{self.name}' (domain.name), not '{self.id}'")
        if self.product_kind == ProductKind.SOURCE_ALIGNED and not self.sla.schedule:
            raise ValueError("a source-aligned product needs sla.schedule (a cron) to ingest on")
        seen = set()
        for port in self.input_ports:
            if port.ref in seen:
                raise ValueError(f"input port {port.ref} is declared twice")
            seen.add(port.ref)
        return self


def read_yaml(path: Path) -> tuple[dict | None, list[Problem]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [Problem("file not found", file=path)]
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [Problem(f"not valid YAML: {exc}".replace("\n", " "), file=path)]
    if not isinstance(data, dict):
        return None, [Problem("expected a mapping at the top level", file=path)]
    return data, []


def pydantic_problems(exc: ValidationError, file: Path, product: str | None = None) -> list[Problem]:
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or None
        problems.append(Problem(err["msg"], file=file, field=field, product=product))
    return problems


def load_model(model: type[M], path: Path, product: str | None = None) -> tuple[M | None, list[Problem]]:
    data, problems = read_yaml(path)
    if data is None:
        return None, problems
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_problems(exc, path, product)
