"""An onboarded model's YAML entry made that of a product: public, contract enforced, typed columns."""

from __future__ import annotations

from typing import Any

import duckdb

from meshwork.authoring.templates import ColumnDraft


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
