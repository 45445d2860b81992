"""The physical floor: the example mesh's transformations and Parquet writes as one plain DuckDB script.

No Dagster, no dbt, no validation, no audit, no lineage: one process, one DuckDB database, the same
SQL. dbt models run from the SQL dbt compiled during the Meshwork build just before (so both sides
execute identical statements), Python products run their own ``build`` function against a minimal
context. Every product is written to Parquet exactly once and read back by its consumers from that
Parquet, like a port. Same DuckDB threads and memory limit as the mesh.

    .venv/bin/python -m benchmarks.baseline --mesh-home .mesh --out /tmp/baseline
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from meshwork.core import settings
from meshwork.model.loader import ensure_importable, load_mesh
from meshwork.model.mesh import Mesh, Product


@dataclass
class BareContext:
    """Duck-types ``ProductContext`` for a product function: inputs are plain Parquet views."""

    con: duckdb.DuckDBPyConnection
    product: Product
    log: Any = None

    def input(self, product_key: str) -> duckdb.DuckDBPyRelation:
        major = next(i.major for i in self.product.inputs if i.product == product_key)
        domain, name = product_key.split("/")
        return self.con.sql(f'SELECT * FROM "port_{domain}"."{name}_v{major}"')

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.con.table(f'"{name}"')

    def source_path(self, system: str, table: str) -> Path:
        return settings.sources_dir() / system / table


def _dbt_steps(mesh_home: Path, domain: str) -> list[tuple[str, str, str]]:
    """(model name, materialization, compiled SQL) in the order the mesh's dbt run executed them."""
    target = mesh_home / "dbt" / domain / "target"
    # dbt run in process gets its manifest as an object and writes none here; names and
    # materializations are the same in the code location's manifest.
    manifest_file = target / "manifest.json"
    if not manifest_file.exists():
        manifest_file = settings.dbt_project_dir() / "target" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]
    steps = []
    for r in results:
        node = manifest["nodes"].get(r["unique_id"])
        if node is None or node["resource_type"] != "model":
            continue
        steps.append((node["name"], node["config"]["materialized"], r["compiled_code"]))
    return steps


def _publish(con: duckdb.DuckDBPyConnection, out: Path, product: Product, table: str) -> None:
    port = product.current_port
    path = out / product.domain / product.name / f"v{port.major}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(f'"{c.name}"' for c in port.contract.columns)
    con.execute(f"COPY (SELECT {columns} FROM \"{table}\") TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "port_{product.domain}"')
    con.execute(
        f'CREATE OR REPLACE VIEW "port_{product.domain}"."{product.name}_v{port.major}" '
        f"AS SELECT * FROM read_parquet('{path}')"
    )


def run(mesh: Mesh, mesh_home: Path, out: Path) -> dict[str, float]:
    """Build every product once; seconds per domain."""
    out.mkdir(parents=True, exist_ok=True)
    # The catalog must be called "warehouse": that is the name dbt compiled into its SQL.
    con = duckdb.connect(str(out / "warehouse.duckdb"), config=settings.duckdb_config())
    con.execute("SET enable_progress_bar = false")
    ensure_importable(mesh.project_dir)
    timings = {}
    for domain in mesh.domain_order():
        started = time.perf_counter()
        products = mesh.domains[domain].products
        dbt_models = {
            p.descriptor.implementation.model or p.name: p
            for p in products
            if p.descriptor.implementation.engine == "dbt"
        }
        if dbt_models:
            for name, materialized, sql in _dbt_steps(mesh_home, domain):
                kind = "VIEW" if materialized == "view" else "TABLE"
                con.execute(f'CREATE OR REPLACE {kind} "{name}" AS {sql}')
                if name in dbt_models:
                    _publish(con, out, dbt_models[name], name)
        for product in products:
            if product.descriptor.implementation.engine != "python":
                continue
            entry = product.descriptor.implementation.entrypoint or f"products.{product.name}:build"
            module, _, attr = entry.partition(":")
            fn = getattr(importlib.import_module(f"domains.{domain}.{module}"), attr or "build")
            fn(BareContext(con, product)).create(product.name)
            _publish(con, out, product, product.name)
        timings[domain] = time.perf_counter() - started
    con.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh-home", type=Path, required=True, help="a MESH_HOME the mesh was just built in")
    parser.add_argument("--out", type=Path, required=True, help="an empty folder for the baseline's database and files")
    args = parser.parse_args()
    started = time.perf_counter()
    timings = run(load_mesh(), args.mesh_home.resolve(), args.out)
    print(json.dumps({"seconds": time.perf_counter() - started, "domains": timings}))


if __name__ == "__main__":
    main()
