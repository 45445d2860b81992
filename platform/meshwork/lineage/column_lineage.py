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
from typing import Any, Literal, NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.qualify import qualify

from meshwork.core import settings
from meshwork.lineage.indirect import DIRECT, Resolver, Use
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
    # The columns whose values flow into this one (DIRECT).
    inputs: tuple[InputColumn, ...]
    # IDENTITY (copied), TRANSFORMATION (computed row by row) or AGGREGATION (over a group).
    subtype: str
    # Columns that only decide the value (INDIRECT): (column, CONDITIONAL or FILTER).
    indirect: tuple[tuple[InputColumn, str], ...] = ()


class ModelLineage(NamedTuple):
    """A dbt product's column lineage, its compiled SQL, and the columns that decide its rows."""

    columns: dict[str, ColumnOrigin]
    sql: str | None
    # INDIRECT for the whole dataset: (column, FILTER / JOIN / GROUP_BY / SORT / WINDOW).
    dataset: tuple[tuple[InputColumn, str], ...] = ()


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
        uses = self._uses(parsed, sources, name)
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
            field = uses.get(column)
            if field is not None:  # the resolver tells a deciding column from one whose value flows
                direct = {i for i in inputs if Use(i.relation, i.column, DIRECT, None) in field}
                deciding = {(InputColumn(u.relation, u.column), u.subtype or "") for u in field if u.type != DIRECT}
                inputs = direct or (inputs - {c for c, _ in deciding})
                result[column] = ColumnOrigin(tuple(sorted(inputs)), _subtype(root), tuple(sorted(deciding)))
            else:
                result[column] = ColumnOrigin(tuple(sorted(inputs)), _subtype(root))
        return result

    def _qualified(self, parsed: Any, sources: Mapping[str, str]) -> Any:
        models: dict[str, Any] = {k: sqlglot.parse_one(v, dialect=DIALECT) for k, v in sources.items()}
        expanded = exp.expand(parsed, models, dialect=DIALECT)
        schema: dict[str, Any] = dict(self._schema)
        return qualify(expanded, schema=schema, dialect=DIALECT, validate_qualify_columns=False, identify=False)

    def _resolver(self) -> Resolver:
        return Resolver(lambda table: self._relations.get(_table_key(table)))

    def _uses(self, parsed: Any, sources: Mapping[str, str], name: str) -> dict[str, set[Use]]:
        try:
            return self._resolver().fields(self._qualified(parsed, sources))
        except (SqlglotError, KeyError, ValueError, TypeError) as exc:  # keep the DIRECT lineage sqlglot found
            log.debug("indirect lineage of %s: %s", name, exc)
            return {}

    def dataset(self, name: str) -> tuple[tuple[InputColumn, str], ...]:
        """The input columns that decide which rows ``name`` has and how they are grouped or ordered."""
        node = self._models.get(name)
        if node is None:
            return ()
        try:
            root = self._qualified(sqlglot.parse_one(node["compiled_code"], dialect=DIALECT), self._expansions(node))
            uses = self._resolver().dataset(root)
        except (SqlglotError, KeyError, ValueError, TypeError) as exc:
            log.debug("indirect lineage of %s: %s", name, exc)
            return ()
        return tuple(sorted({(InputColumn(u.relation, u.column), u.subtype or "") for u in uses}))


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


def dbt_column_lineage(mesh: Mesh, product: Product) -> ModelLineage:
    """Column lineage and compiled SQL of a dbt product, from its domain's last dbt run."""
    if product.descriptor.implementation.engine != "dbt":
        return ModelLineage({}, None)
    manifest = load_manifest(settings.dbt_target_dir(product.domain) / "manifest.json")
    if manifest is None:
        return ModelLineage({}, None)
    model = product.descriptor.implementation.model or product.name
    sql = next(
        (
            n.get("compiled_code")
            for n in manifest.get("nodes", {}).values()
            if n.get("resource_type") == "model" and n.get("name") == model
        ),
        None,
    )
    lineage_of = DbtColumnLineage(manifest, _columns_of(mesh))
    # Named as the port publishes them: a column the port renames (outputPorts[].columns) under its contract name.
    published = {m: c for c, m in product.current_port.spec.renamed.items()}
    columns = {published.get(name, name): origin for name, origin in lineage_of.model(model).items()}
    return ModelLineage(columns, sql, lineage_of.dataset(model))
