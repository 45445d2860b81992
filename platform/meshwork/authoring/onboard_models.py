"""An onboarded model made a product: its YAML entry public, contract enforced, typed columns; its columns
named for the contract as the mesh's naming policy asks (renamed at the port, the model's SQL unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import yaml

from meshwork.authoring import odps_upgrade
from meshwork.authoring.changeset import ScaffoldError
from meshwork.authoring.templates import ColumnDraft
from meshwork.core.names import IDENTIFIER
from meshwork.model import odps


def productize(entry: dict[str, Any], columns: list[ColumnDraft]) -> None:
    """Make a model's YAML entry that of a product: public, contract enforced, typed columns in order."""
    entry["access"] = "public"
    config = entry.setdefault("config", {})
    config["contract"] = {**(config.get("contract") or {}), "enforced": True}
    existing = {c.get("name"): c for c in entry.get("columns") or []}
    entry["columns"] = [
        {"name": c.name, "data_type": c.physical_type.lower(), **_without(existing.get(c.name, {}), "data_type")}
        for c in columns
    ]
    quote_reserved(entry["columns"])


def quote_reserved(columns: list[dict[str, Any]]) -> None:
    """``quote: true`` on columns named by a DuckDB reserved word (``order``, ``group``…): dbt writes the
    enforced contract's DDL with bare names, which DuckDB refuses there. They are fine names otherwise."""
    with duckdb.connect() as con:
        words = con.execute("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'")
        reserved = {r[0] for r in words.fetchall()}
    for column in columns:
        if str(column.get("name", "")).lower() in reserved:
            column["quote"] = True


def _without(entry: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in {"name", *keys}}


# The mesh's `naming` policy (governance/global_policies.py): (type test, accepted endings or starts, what
# onboarding adds, in order of preference). A column that breaks it is renamed at the port, never in the SQL.
_NAMING: list[tuple[Callable[[str], bool], str, tuple[str, ...], bool]] = [
    (lambda t: t.startswith("TIMESTAMP"), "timestamp columns end in _at or _ts", ("_at", "_ts"), False),
    (lambda t: t == "DATE", "date columns end in _date or _on", ("_date", "_on"), False),
    (lambda t: t == "BOOLEAN", "boolean columns start with is_ or has_", ("is_", "has_"), True),
]


@dataclass(frozen=True)
class PortName:
    """A model column published under another name at the port (``outputPorts[].columns``)."""

    column: str  # the model's column
    name: str  # the contract's column
    why: str


def conform(model: str, columns: list[ColumnDraft]) -> tuple[list[ColumnDraft], list[PortName]]:
    """The contract's columns for a model's columns, each named as the naming policy asks, and the renames.

    A DATE gets ``_date`` (else ``_on``), a TIMESTAMP ``_at`` (else ``_ts``), a BOOLEAN ``is_`` (else ``has_``):
    the first that is a fresh, safe name."""
    taken = {c.name for c in columns}
    contract, renamed = [], []
    for c in columns:
        kind = c.physical_type.upper()
        rule = next((r for r in _NAMING if r[0](kind)), None)
        if rule is None or (c.name.startswith(rule[2]) if rule[3] else c.name.endswith(rule[2])):
            contract.append(c)
            continue
        names = [f"{a}{c.name}" if rule[3] else f"{c.name}{a}" for a in rule[2]]
        name = next((n for n in names if n not in taken and IDENTIFIER.match(n)), None)
        if name is None:
            raise ScaffoldError(
                f"column '{c.name}' ({kind}) of model '{model}' breaks the naming policy ({rule[1]}) and cannot be "
                f"renamed at the port: {' and '.join(names)} are taken or too long; alias it in the model"
            )
        taken.add(name)
        contract.append(replace(c, name=name))
        renamed.append(PortName(c.name, name, f"{kind} column: the naming policy says {rule[1]}"))
    return contract, renamed


def describe(product: str, renamed: list[PortName]) -> list[str]:
    """One line per column renamed at the port, for the summary and the review list."""
    return [
        f"column '{r.column}' of {product} is published as '{r.name}' (port mapping {{{r.name}: {r.column}}}; "
        f"{r.why}; the model's SQL is unchanged)"
        for r in renamed
    ]


def with_port_columns(descriptor: str, renamed: list[PortName]) -> str:
    """The drafted descriptor with its output port's ``columns`` mapping (contract column: model column)."""
    if not renamed:
        return descriptor
    data = yaml.safe_load(descriptor)
    port = data["outputPorts"][0]
    port["customProperties"] = [
        *port.get("customProperties", []),
        *odps.custom(columns={r.name: r.column for r in renamed}),
    ]
    return odps_upgrade.dump(data)
