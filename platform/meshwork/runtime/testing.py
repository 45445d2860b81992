"""Unit-test a data product on sample rows, without building the mesh.

``run_product("fulfilment/orders_by_channel", inputs={"sales/orders": [{...}]})`` builds the product
in an in-memory DuckDB: each declared input port becomes a table typed by the producer's contract
and filled with the given rows, landing-file sources (``sources={"shop/orders": [...]}``) become
Parquet files, the Python function or dbt model runs as it would in its code location, and every
rule of the product's contract is checked on the result, exactly as the publish gate does.

dbt models are rendered with the few Jinja functions plain models use (``ref``, ``source``,
``config``, ``var``, ``env_var``, ``this``, ``is_incremental``); a model calling its own macros
needs the real build (``mesh build``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import yaml

from meshwork.core import settings
from meshwork.core.errors import PortAccessError
from meshwork.core.names import quote
from meshwork.model.loader import ensure_importable, load_mesh
from meshwork.model.mesh import Mesh, Product
from meshwork.ports import publish
from meshwork.ports.reader import port_view_name
from meshwork.quality.validator import QualityReport
from meshwork.runtime import python_products
from meshwork.runtime.gate import table_name
from meshwork.storage import dbt_project, warehouse

Rows = Sequence[Mapping[str, Any]]


@dataclass
class ProductRun:
    product: Product
    reports: list[QualityReport]
    rows: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports)

    def describe(self) -> str:
        return "\n".join(r.describe() for r in self.reports)


class _SampleReader:
    """Stands in for the port reader: declared inputs are the sample tables, nothing else is readable."""

    def __init__(self, con: duckdb.DuckDBPyConnection, product: Product, tables: dict[str, str]):
        self.con, self.product, self.tables = con, product, tables
        self.reads: list = []

    def relation(self, product_key: str) -> duckdb.DuckDBPyRelation:
        if product_key not in self.tables:
            raise PortAccessError(f"{self.product.key} may not read '{product_key}': it is not a declared input")
        return self.con.sql(f"SELECT * FROM {self.tables[product_key]}")


@dataclass
class _SampleContext(python_products.ProductContext):
    sources: Path = Path()

    def source_path(self, system: str, table: str) -> Path:
        return self.sources / system / table


def run_product(
    product_key: str,
    inputs: Mapping[str, Rows] | None = None,
    sources: Mapping[str, Rows] | None = None,
    mesh: Mesh | None = None,
) -> ProductRun:
    """Build ``product_key`` from sample rows and validate the result against its contract."""
    mesh = mesh or load_mesh(check_grants=False)
    product = mesh.product(product_key)
    inputs = dict(inputs or {})
    unknown = set(inputs) - {i.product for i in product.inputs}
    if unknown:
        raise ValueError(f"{product_key} does not declare these inputs: {sorted(unknown)}")
    con = warehouse.quiet(duckdb.connect())
    with tempfile.TemporaryDirectory(prefix="mesh-test-") as tmp:
        landing = Path(tmp) / "sources"
        for key, sample in (sources or {}).items():
            _write_source(con, landing, key, sample)
        tables = {i.product: _input_table(con, mesh, product, i, inputs.get(i.product, [])) for i in product.inputs}
        table = table_name(product)
        if product.descriptor.implementation.engine == "python":
            ensure_importable(mesh.project_dir)
            fn, _ = python_products.load_function(product)
            reader = _SampleReader(con, product, tables)
            ctx = _SampleContext(con, product, reader, logging.getLogger("meshwork.runtime.testing"), landing)  # type: ignore[arg-type]
            fn(ctx).create(table)
        else:
            con.execute(f"CREATE TABLE {quote(table)} AS {_render_model(mesh, product, table, tables, landing)}")
        reports = publish.validate(con, product, table, lambda key: tables[key])
        result = con.execute(f"SELECT * FROM {quote(table)}")
        names = [d[0] for d in result.description or []]
        rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    con.close()
    return ProductRun(product, reports, rows)


def _input_table(con: duckdb.DuckDBPyConnection, mesh: Mesh, product: Product, port, rows: Rows) -> str:
    """A table shaped like the producer's port contract, holding ``rows``; returns its SQL name."""
    producer = mesh.products[port.product].port(port.major)
    assert producer is not None  # the mesh loaded, so every input port exists
    columns = producer.contract.columns
    same_domain_model = (
        mesh.products[port.product].descriptor.implementation.model or port.name
        if port.domain == product.domain and mesh.products[port.product].descriptor.implementation.engine == "dbt"
        else None
    )
    if same_domain_model:  # a dbt product reads its own domain's products with ref(): a table of that name
        name = quote(same_domain_model)
    else:
        schema, view = port_view_name(port.domain, port.name, port.major)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        name = f"{quote(schema)}.{quote(view)}"
    con.execute(f"CREATE TABLE {name} ({', '.join(f'{quote(c.name)} {c.physical_type}' for c in columns)})")
    known = {c.name for c in columns}
    for row in rows:
        extra = set(row) - known
        if extra:
            raise ValueError(f"sample row for {port.ref} has columns its contract does not declare: {sorted(extra)}")
        cols = list(row)
        if cols:
            con.execute(
                f"INSERT INTO {name} ({', '.join(quote(c) for c in cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [row[c] for c in cols],
            )
        else:
            con.execute(f"INSERT INTO {name} DEFAULT VALUES")
    return name


def _write_source(con: duckdb.DuckDBPyConnection, landing: Path, key: str, rows: Rows) -> None:
    system, _, table = key.partition("/")
    folder = landing / system / table
    folder.mkdir(parents=True)
    if not rows:
        raise ValueError(f"give at least one row for source '{key}' (its columns come from the rows)")
    cols = list(rows[0])
    values = ", ".join("(" + ", ".join("?" for _ in cols) + ")" for _ in rows)
    params = [r.get(c) for r in rows for c in cols]
    alias = ", ".join(quote(c) for c in cols)
    relation = con.sql(f"SELECT * FROM (VALUES {values}) AS t({alias})", params=params)
    relation.write_parquet(str(folder / "part-0.parquet"))


def _render_model(mesh: Mesh, product: Product, table: str, tables: dict[str, str], landing: Path) -> str:
    manifest = dbt_project.load_manifest()
    models = {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["original_file_path"].startswith(f"models/{product.domain}/")
    }
    inputs_by_model = {sql.strip('"') for sql in tables.values() if "." not in sql}  # same-domain ref() inputs
    rendered: dict[str, str] = {}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def source(source_name: str, table_name: str) -> str:
        if source_name.startswith("port_"):
            return f"{quote(source_name)}.{quote(table_name)}"
        node = next(
            (s for s in manifest["sources"].values() if (s["source_name"], s["name"]) == (source_name, table_name)),
            None,
        )
        if node is None:
            raise ValueError(f"unknown dbt source {source_name}.{table_name}")
        spec = yaml.safe_load((settings.dbt_project_dir() / node["original_file_path"]).read_text(encoding="utf-8"))
        declared = next(s for s in spec["sources"] if s["name"] == source_name)
        location = (declared.get("meta") or {}).get("external_location") or (
            (declared.get("config") or {}).get("meta") or {}
        ).get("external_location")
        if not location:
            raise ValueError(f"dbt source {source_name} has no external_location: it cannot be sampled")
        return env.from_string(location).render(var=var).format(name=table_name, identifier=table_name)

    def var(name: str, default: Any = None) -> Any:
        return str(landing) if name == "mesh_sources" else default

    def ref(*args: str, **_: Any) -> str:
        name = args[-1]
        if name in inputs_by_model:
            return quote(name)
        if name not in models:
            raise ValueError(f"{product.key}: ref('{name}') is not a model of domain '{product.domain}'")
        if name not in rendered:
            rendered[name] = render(models[name]["raw_code"], name)
        return f"({rendered[name]})"

    def render(code: str, this: str) -> str:
        return env.from_string(code).render(
            ref=ref,
            source=source,
            var=var,
            config=lambda *a, **k: "",
            env_var=lambda name, default=None: os.environ.get(name, default),
            is_incremental=lambda: False,
            this=quote(this),
        )

    model = product.descriptor.implementation.model or product.name
    if model not in models:
        raise ValueError(f"{product.key}: no dbt model '{model}' under dbt_project/models/{product.domain}/")
    return render(models[model]["raw_code"], table)
