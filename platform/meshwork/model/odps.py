"""The Open Data Product Standard (ODPS) v1.0.0 document, modelled in pydantic from the standard's text.

Every product descriptor is first read as an ODPS v1.0.0 document: the keys the standard defines, at
the places it defines them, with its required fields (a port's ``name`` and ``version``, an input
port's ``contractId``, a support channel's ``channel`` and ``url``, …); any other key is an error, as
the standard's own JSON schema says (``additionalProperties: false`` everywhere). What Meshwork adds
lives where the standard puts extensions: ``customProperties``, lists of ``{property, value,
description}`` (see :mod:`meshwork.model.descriptors` for the properties Meshwork reads).

This model is Meshwork's own reading of the standard, written for clear errors; the official JSON
schema of the v1.0.0 release is the reference it is tested against (tests/odps_official.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

VERSION = "v1.0.0"  # the ODPS release Meshwork writes and reads


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _uri(value: str | None) -> str | None:
    """The standard's ``format: uri``: a scheme and something after it (https://…, mailto:…)."""
    if value is not None and (":" not in value or not value.split(":", 1)[0].isalpha() or not value.split(":", 1)[1]):
        raise ValueError(f"'{value}' is not a URL (write e.g. https://… or mailto:…)")
    return value


class CustomProperty(Element):
    """A key/value pair: the standard's extension point (``value`` may be any YAML value)."""

    property: str = Field(min_length=1)
    value: Any
    description: str | None = None


class AuthoritativeDefinition(Element):
    type: str
    url: str
    description: str | None = None

    _url = field_validator("url")(_uri)


class Extensible(Element):
    """The blocks most ODPS objects share."""

    tags: list[str] | None = None
    custom_properties: list[CustomProperty] | None = Field(default=None, alias="customProperties")
    authoritative_definitions: list[AuthoritativeDefinition] | None = Field(
        default=None, alias="authoritativeDefinitions"
    )


class Description(Element):
    purpose: str | None = None
    limitations: str | None = None
    usage: str | None = None
    authoritative_definitions: list[AuthoritativeDefinition] | None = Field(
        default=None, alias="authoritativeDefinitions"
    )
    custom_properties: list[CustomProperty] | None = Field(default=None, alias="customProperties")


class InputPort(Extensible):
    name: str
    version: str
    contract_id: str = Field(alias="contractId")


class Sbom(Element):
    type: str = "external"
    url: str

    _url = field_validator("url")(_uri)


class InputContract(Element):
    id: str
    version: str


class OutputPort(Extensible):
    name: str
    version: str
    description: str | None = None
    type: str | None = None
    contract_id: str | None = Field(default=None, alias="contractId")
    sbom: list[Sbom] | None = None
    input_contracts: list[InputContract] | None = Field(default=None, alias="inputContracts")


class ManagementPort(Extensible):
    name: str
    content: str
    type: str = "rest"
    url: str | None = None
    channel: str | None = None
    description: str | None = None

    _url = field_validator("url")(_uri)


class Support(Extensible):
    channel: str
    url: str
    description: str | None = None
    tool: str | None = None
    scope: str | None = None
    invitation_url: str | None = Field(default=None, alias="invitationUrl")

    _urls = field_validator("url", "invitation_url")(_uri)


class TeamMember(Extensible):
    username: str
    name: str | None = None
    description: str | None = None
    role: str | None = None
    date_in: date | None = Field(default=None, alias="dateIn")
    date_out: date | None = Field(default=None, alias="dateOut")
    replaced_by_username: str | None = Field(default=None, alias="replacedByUsername")


class Team(Extensible):
    name: str | None = None
    description: str | None = None
    members: list[TeamMember] | None = None


class DataProduct(Element):
    """An ODPS document (the schema's top level)."""

    api_version: Literal["v0.9.0", "v1.0.0"] = Field(alias="apiVersion")
    kind: Literal["DataProduct"]
    id: str
    status: str
    name: str | None = None
    version: str | None = None
    domain: str | None = None
    tenant: str | None = None
    authoritative_definitions: list[AuthoritativeDefinition] | None = Field(
        default=None, alias="authoritativeDefinitions"
    )
    description: Description | None = None
    custom_properties: list[CustomProperty] | None = Field(default=None, alias="customProperties")
    tags: list[str] | None = None
    input_ports: list[InputPort] | None = Field(default=None, alias="inputPorts")
    output_ports: list[OutputPort] | None = Field(default=None, alias="outputPorts")
    management_ports: list[ManagementPort] | None = Field(default=None, alias="managementPorts")
    support: list[Support] | None = None
    team: Team | None = None
    # A date-time string; YAML reads an unquoted ISO 8601 timestamp as a datetime, which JSON writes back as one.
    product_created_ts: datetime | str | None = Field(default=None, alias="productCreatedTs")


def properties(items: list[dict[str, Any]] | None) -> dict[str, tuple[int, Any]]:
    """``customProperties`` as ``{property: (index, value)}`` (the list is already valid ODPS)."""
    return {item["property"]: (i, item["value"]) for i, item in enumerate(items or [])}


def custom(**values: Any) -> list[dict[str, Any]]:
    """``customProperties`` entries for the given values, in order, leaving out ``None``."""
    return [{"property": k, "value": v} for k, v in values.items() if v is not None]
