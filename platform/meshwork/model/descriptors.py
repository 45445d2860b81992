"""Domain and product descriptors: the YAML a domain team writes, validated with pydantic.

A product descriptor is an Open Data Product Standard (ODPS) v1.0.0 document (:mod:`meshwork.model.odps`
reads it as the standard defines it). What a mesh platform needs beyond the standard sits where ODPS
puts extensions, in ``customProperties``:

- on the product: ``productKind``, ``implementation``, ``sla``, ``sources``, ``retention``,
  ``retentionColumn``;
- on an output port: ``visibility``, ``grants``, ``deprecatedAfter``, ``removedAfter``, ``columns``.

Ports are named by ODPS ``name``, ``version`` (``v<major>``) and ``contractId`` (the ODCS contract's
``id``, ``<domain>.<product>``): an input port repeats the three of the output port it reads. The
product's ``team`` (its owner; the domain's owner when absent) and ``support`` channels are ODPS's
own. Unknown keys, and custom properties Meshwork does not know, are errors, so a typo never passes
silently. :func:`load_product` reads a file and names the file, field, product and reason of each problem.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import sqlglot
import sqlglot.errors
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlglot import exp

from meshwork.core import yamlsafe
from meshwork.core.errors import Problem
from meshwork.core.names import IDENTIFIER, TEAM, parse_major, pydantic_pattern
from meshwork.model import odps

Identifier = Annotated[str, Field(pattern=pydantic_pattern(IDENTIFIER))]
TeamName = Annotated[str, Field(pattern=pydantic_pattern(TEAM))]
ProductKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")]
ContractId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
M = TypeVar("M", bound=BaseModel)
_DURATION = re.compile(r"^(\d+)\s*(m|h|d)\Z")  # \Z: $ would let a final newline through


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
    """The owning team, written ``{team: x, email: …}``, or as Dagster writes owners: ``team:x`` or an
    e-mail address (whose local part names the team)."""

    team: TeamName
    email: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _dagster_forms(cls, value: Any) -> Any:
        if isinstance(value, str):
            team, email = owner_parts(value)
            return {"team": team, "email": email}
        if isinstance(value, dict) and isinstance(value.get("team"), str):
            return {**value, "team": value["team"].removeprefix("team:")}
        return value

    @property
    def dagster_owner(self) -> str:
        return f"team:{self.team}"

    @property
    def dagster_owners(self) -> list[str]:
        """What the Dagster UI shows: the team, and its address when there is one."""
        return [self.dagster_owner, *([self.email] if self.email else [])]


def owner_parts(text: str) -> tuple[str, str | None]:
    """(team, e-mail) from ``team:x``, ``x`` or ``someone@example.org`` (team: the local part, normalised)."""
    text = text.strip()
    if "@" in text and not text.startswith("team:"):
        local = re.sub(r"[^a-z0-9_-]+", "-", text.split("@", 1)[0].lower()).strip("-_")
        return (local if local[:1].isalpha() else f"team-{local}"), text
    return text.removeprefix("team:"), None


class DomainDescriptor(Strict):
    name: Identifier
    description: str = Field(min_length=1)
    owner: Owner
    # Who hears of an error the owner leaves open past MESH_NOTICE_ESCALATE_AFTER (default: the platform team).
    escalation: Owner | None = None


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
    """A dependency on another product's output port, pinned to a major version: the ``name``,
    ``version`` and ``contractId`` of the port it reads (``orders``, ``v1``, ``sales.orders``)."""

    name: Identifier
    version: str
    contract_id: ContractId = Field(alias="contractId")

    @classmethod
    def of(cls, product: str, version: str) -> InputPort:
        """The input port reading ``product`` (``domain/name``) at ``version`` (``v<major>``)."""
        domain, name = product.split("/")
        return cls.model_validate({"name": name, "version": version, "contractId": f"{domain}.{name}"})

    @field_validator("version")
    @classmethod
    def _major(cls, v: str) -> str:
        parse_major(v)
        return v

    @model_validator(mode="after")
    def _names_its_port(self) -> InputPort:
        if (port := self.contract_id.split(".")[1]) != self.name:
            raise ValueError(
                f"name '{self.name}' is not the port of contract '{self.contract_id}': an input port repeats the "
                f"name, version and contractId of the output port it reads (here name: {port})"
            )
        return self

    @property
    def product(self) -> str:
        return self.contract_id.replace(".", "/", 1)

    @property
    def domain(self) -> str:
        return self.contract_id.split(".")[0]

    @property
    def major(self) -> int:
        return parse_major(self.version)

    @property
    def ref(self) -> str:
        return f"{self.product}@{self.version}"


class Grant(Strict):
    """Permission for one consumer product to read a restricted port."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    consumer: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")]
    purpose: str = Field(min_length=1)
    pii: bool = Field(default=False, description="the consumer may read PII columns in clear")
    expires: date | None = None

    def is_valid(self, today: date) -> bool:
        return self.expires is None or today <= self.expires


class OutputPort(Strict):
    """One major version of the product's output port: ODPS ``name`` (the product's), ``version``
    (``v<major>``, the major of its contract) and ``contractId``, plus Meshwork's custom properties."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: Identifier
    version: str
    contract_id: ContractId = Field(alias="contractId", description="the id of the port's ODCS contract")
    description: str | None = None
    type: str | None = None
    visibility: Visibility = Visibility.PUBLIC
    deprecated_after: date | None = Field(default=None, alias="deprecatedAfter")
    removed_after: date | None = Field(default=None, alias="removedAfter")
    # For an older major kept alive beside a new one: how to compute each of its columns from the
    # product's current table (column -> SQL expression), e.g. {email: email_address}.
    columns: dict[Identifier, str] = Field(default_factory=dict)
    grants: list[Grant] = Field(default_factory=list)

    @field_validator("version")
    @classmethod
    def _major(cls, v: str) -> str:
        parse_major(v)
        return v

    @property
    def major(self) -> int:
        return parse_major(self.version)

    @field_validator("columns")
    @classmethod
    def _expressions(cls, mapping: dict[str, str]) -> dict[str, str]:
        for column, expression in mapping.items():
            check_expression(expression, f"columns.{column}")
        return mapping

    @property
    def renamed(self) -> dict[str, str]:
        """Contract column -> the product's table column it is published from, for mappings that only rename
        (``{first_order_date: first_order}``): e.g. a column conformed to the naming policy at the port."""
        return {c: e.strip().strip('"') for c, e in self.columns.items() if IDENTIFIER.match(e.strip().strip('"'))}

    def is_removed(self, today: date) -> bool:
        return self.removed_after is not None and today > self.removed_after

    def is_deprecated(self, today: date) -> bool:
        return self.deprecated_after is not None and today > self.deprecated_after


class SourceRef(Strict):
    """An operational system's export that a source-aligned product ingests (sources/<system>/<table>/)."""

    system: Identifier
    table: Identifier
    columns: list[Identifier] = Field(
        default_factory=list,
        description="the columns every landing file must have, no more and no fewer (checked before ingest)",
    )


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


class Team(odps.Team):
    """ODPS ``team``; Meshwork reads its ``name`` as the owning team."""

    name: TeamName  # type: ignore[assignment]


class ProductDescriptor(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["v1.0.0"] = Field(alias="apiVersion")
    kind: Literal["DataProduct"]
    id: str
    name: Identifier
    version: str = Field(min_length=1, description="the product's own release, e.g. 1.0.0")
    domain: Identifier
    status: Literal["draft", "active", "deprecated", "retired"] = "active"
    description: Description
    team: Team | None = Field(default=None, description="the owning team; defaults to the domain's owner")
    support: list[odps.Support] = Field(default_factory=list)
    tags: list[Identifier] = Field(default_factory=list)
    input_ports: list[InputPort] = Field(default_factory=list, alias="inputPorts")
    output_ports: list[OutputPort] = Field(min_length=1, alias="outputPorts")
    # customProperties
    product_kind: ProductKind = Field(alias="productKind")
    implementation: Implementation
    sla: Sla
    retention: str | None = Field(default=None, description="how long data is kept, e.g. 730d")
    retention_column: Identifier | None = Field(
        default=None,
        alias="retentionColumn",
        description="a date/timestamp column: rows older than the retention by it are purged everywhere",
    )
    sources: list[SourceRef] = Field(default_factory=list, description="landing files a source-aligned product reads")

    @field_validator("retention")
    @classmethod
    def _retention(cls, v: str | None) -> str | None:
        if v is not None and not _DURATION.match(v):
            raise ValueError(f"'{v}' is not a duration: write e.g. 730d")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ProductDescriptor:
        if self.id != f"{self.domain}.{self.name}":
            raise ValueError(f"id must be '{self.domain}.{self.name}' (domain.name), not '{self.id}'")
        if self.product_kind == ProductKind.SOURCE_ALIGNED and not self.sla.schedule:
            raise ValueError("a source-aligned product needs the custom property sla.schedule (a cron) to ingest on")
        if self.retention_column and not self.retention:
            raise ValueError("retentionColumn needs a retention period (the custom property retention, e.g. 730d)")
        for i, out in enumerate(self.output_ports):
            if out.name != self.name or out.contract_id != self.id:
                raise ValueError(
                    f"outputPorts.{i}: an output port is named after its product and its contractId is the "
                    f"product's id (name: {self.name}, contractId: {self.id}), not {out.name} / {out.contract_id}"
                )
        seen = set()
        for port in self.input_ports:
            if port.ref in seen:
                raise ValueError(f"input port {port.ref} is declared twice")
            seen.add(port.ref)
        return self

    @property
    def owner(self) -> Owner | None:
        """The team, with the address of its first e-mail support channel (``mailto:``)."""
        if self.team is None:
            return None
        email = next((s.url.removeprefix("mailto:") for s in self.support if s.url.startswith("mailto:")), None)
        return Owner(team=self.team.name, email=email)

    def owner_or(self, domain_owner: Owner) -> Owner:
        """The product's owner: its team, or the domain's owner (whose address it keeps when the team is
        the domain's own and the descriptor names no e-mail channel)."""
        own = self.owner
        if own is None or (own.team == domain_owner.team and own.email is None):
            return domain_owner
        return own


def check_expression(expression: str, where: str) -> None:
    """Accept one scalar SQL expression over the product's columns; no queries, no statements."""
    try:
        # Parsed as the projection of a SELECT: a second statement or a FROM would show up as such.
        statements = sqlglot.parse(f"SELECT {expression}", read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"{where}: '{expression}' is not a SQL expression: {exc}") from exc
    select = statements[0] if len(statements) == 1 else None
    if (
        not isinstance(select, exp.Select)
        or len(select.expressions) != 1
        or any(value for key, value in select.args.items() if key != "expressions")  # FROM, WHERE, LIMIT…
        or any(isinstance(node, exp.Query) for node in select.expressions[0].walk())
    ):
        raise ValueError(f"{where}: '{expression}' must be one column expression, not a query or statement")


def read_yaml(path: Path) -> tuple[dict | None, list[Problem]]:
    try:
        data = yamlsafe.read(path)
    except FileNotFoundError:
        return None, [Problem("file not found", file=path)]
    except yamlsafe.YamlLimitError as exc:
        return None, [Problem(str(exc), file=path)]
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
