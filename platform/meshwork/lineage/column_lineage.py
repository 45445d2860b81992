"""Column lineage of a dbt product, from its compiled SQL parsed by sqlglot.

The compiled SQL of a product model reads port views (``port_<domain>.<product>_v<N>``), landing
files (a dbt source compiled to ``read_parquet(...)``) or other models of its domain. Those models
are expanded in place (sqlglot's ``sources=``), so each output column is traced through staging
models down to the columns of ports and landing files it is computed from. Nothing is mapped by
hand: a column missing here is one sqlglot could not resolve.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage

from meshwork.core import settings
from meshwork.model.mesh import Mesh, Product
from meshwork.storage import dbt_project

log = logging.getLogger(__name__)

DIALECT = "duckdb"
PORT_SOURCE_PREFIX = "port_"


@dataclass(frozen=True, order=True)
class Relation:
    """Where a column comes from: a port version (``sales/orders/v1``) or a landing table (``shop/orders``)."""

    kind: Literal["port", "source"]
    name: str


@dataclass(frozen=True, order=True)
class InputColumn:
    relation: Relation
    column: str


@dataclass(frozen=True)
class ColumnOrigin:
    inputs: tuple[InputColumn, ...]
    # IDENTITY (copied), TRANSFORMATION (computed row by row) or AGGREGATION (over a group).
    subtype: str


ColumnsOf = Callable[[Relation], Mapping[str, str] | None]


def _table_key(table: exp.Table) -> str:
    """A comparable name for a table or table function, without alias or quoting."""
    if isinstance(table.this, exp.Func):
        return table.this.sql(dialect=DIALECT).lower()
    return ".".join(part.name.lower() for part in table.parts[-2:])


def _from_relation_name(relation_name: str) -> exp.Table | None:
    parsed = sqlglot.parse_one(f"SELECT * FROM {relation_name}", dialect=DIALECT)
    return parsed.find(exp.Table)


def _source_relation(props: Mapping[str, Any]) -> Relation:
    source, name = props["source_name"], props["name"]
    if source.startswith(PORT_SOURCE_PREFIX):
        product, _, major = name.rpartition("_v")
        return Relation("port", f"{source[len(PORT_SOURCE_PREFIX) :]}/{product}/v{major}")
    return Relation("source", f"{source}/{name}")


def _leaves(node: Node, named: str | None = None) -> Iterator[tuple[exp.Table, str]]:
    """(table, column) at the bottom of a lineage tree.

    A ``SELECT *`` over a table whose columns are unknown (a landing file) ends in a ``*`` leaf: the
    column is then the name it had one level up.
    """
    name = node.name.rsplit(".", 1)[-1]
    if name != "*":
        named = name
    if not node.downstream:
        if isinstance(node.expression, exp.Table) and named:
            yield node.expression, named
        return
    for child in node.downstream:
        yield from _leaves(child, named)


def _subtype(node: Node) -> str:
    expressions = [n.expression for n in node.walk() if not isinstance(n.expression, exp.Table)]
    if any(e.find(exp.AggFunc) for e in expressions):
        return "AGGREGATION"
    trivial = (exp.Column, exp.Star, exp.Identifier)
    if all(isinstance(e.unalias(), trivial) for e in expressions):
        return "IDENTITY"
    return "TRANSFORMATION"


class DbtColumnLineage:
    """Column lineage for the product models of one dbt manifest (compiled, e.g. after ``dbt build``)."""

    def __init__(self, manifest: Mapping[str, Any], columns_of: ColumnsOf | None = None):
        self.manifest = manifest
        self.columns_of = columns_of or (lambda _relation: None)
        self._relations: dict[str, Relation] = {}
        self._schema: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        for props in manifest.get("sources", {}).values():
            table = _from_relation_name(props["relation_name"]) if props.get("relation_name") else None
            if table is None:
                continue
            relation = _source_relation(props)
            self._relations[_table_key(table)] = relation
            columns = self.columns_of(relation)
            if columns and not isinstance(table.this, exp.Func):
                # Known columns let sqlglot resolve `SELECT *` and unqualified names in joins.
                self._schema.setdefault(table.catalog or "warehouse", {}).setdefault(table.db or "main", {})[
                    table.name
                ] = dict(columns)
        self._models = {
            node["name"]: node
            for node in manifest.get("nodes", {}).values()
            if node.get("resource_type") == "model" and node.get("compiled_code")
        }

    def _expansions(self, model: Mapping[str, Any]) -> dict[str, str]:
        """Compiled SQL of every model upstream of ``model``, keyed by the relation name it is read under."""
        found: dict[str, str] = {}
        stack = dbt_project.parents(model)
        while stack:
            uid = stack.pop()
            node = self.manifest.get("nodes", {}).get(uid)
            if not node or node.get("resource_type") != "model" or not node.get("compiled_code"):
                continue
            if node["relation_name"] not in found:
                found[node["relation_name"]] = node["compiled_code"]
                stack.extend(dbt_project.parents(node))
        return found

    def output_columns(self, model: Mapping[str, Any], parsed: Any) -> list[str]:
        declared = list(model.get("columns", {}))
        names = [n for n in getattr(parsed, "named_selects", []) if n != "*"]
        return declared or names

    def model(self, name: str) -> dict[str, ColumnOrigin]:
        """Output column -> where it comes from; empty if the model is unknown or not compiled."""
        node = self._models.get(name)
        if node is None:
            return {}
        sql = node["compiled_code"]
        try:
            parsed = sqlglot.parse_one(sql, dialect=DIALECT)
        except SqlglotError as exc:
            log.warning("column lineage: cannot parse the compiled SQL of %s: %s", name, exc)
            return {}
        sources = self._expansions(node)
        result: dict[str, ColumnOrigin] = {}
        for column in self.output_columns(node, parsed):
            try:
                root = lineage(column, sql, self._schema, sources=sources, dialect=DIALECT)
            except (SqlglotError, KeyError, ValueError) as exc:  # an unresolvable column: leave it out
                log.debug("column lineage of %s.%s: %s", name, column, exc)
                continue
            inputs = {
                InputColumn(relation, col)
                for table, col in _leaves(root)
                if (relation := self._relations.get(_table_key(table))) is not None
            }
            result[column] = ColumnOrigin(tuple(sorted(inputs)), _subtype(root))
        return result


@lru_cache(maxsize=8)
def _manifest(path: Path, mtime_ns: int) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_manifest(path: Path) -> dict[str, Any] | None:
    """A dbt manifest, parsed once per version of the file (the gate of each product reads it)."""
    try:
        return _manifest(path, path.stat().st_mtime_ns)
    except (OSError, ValueError):
        return None


def _columns_of(mesh: Mesh) -> Callable[[Relation], Mapping[str, str] | None]:
    def columns_of(relation: Relation) -> Mapping[str, str] | None:
        if relation.kind != "port":
            return None
        domain, name, version = relation.name.split("/")
        producer = mesh.products.get(f"{domain}/{name}")
        port = producer.port(int(version[1:])) if producer else None
        return {c.name: c.physical_type for c in port.contract.columns} if port else None

    return columns_of


def dbt_column_lineage(mesh: Mesh, product: Product) -> tuple[dict[str, ColumnOrigin], str | None]:
    """Column lineage and compiled SQL of a dbt product, from its domain's last dbt run."""
    if product.descriptor.implementation.engine != "dbt":
        return {}, None
    manifest = load_manifest(settings.dbt_target_dir(product.domain) / "manifest.json")
    if manifest is None:
        return {}, None
    model = product.descriptor.implementation.model or product.name
    sql = next(
        (
            n.get("compiled_code")
            for n in manifest.get("nodes", {}).values()
            if n.get("resource_type") == "model" and n.get("name") == model
        ),
        None,
    )
    return DbtColumnLineage(manifest, _columns_of(mesh)).model(model), sql
