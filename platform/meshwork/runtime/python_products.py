"""Products implemented as a Python function over DuckDB.

The domain writes ``def build(ctx: ProductContext) -> duckdb.DuckDBPyRelation`` and the platform
does the rest: opens the domain's warehouse, gives the function its declared input ports as
relations, stores the result as a warehouse table, validates it against the contract and publishes
the output port. Data never leaves DuckDB on the way.
"""

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from meshwork.core import settings
from meshwork.core.errors import MeshDefinitionError, Problem
from meshwork.core.names import quote
from meshwork.model.mesh import Mesh, Product
from meshwork.ports.reader import PortReader, ResolvedPort
from meshwork.runtime import run_lineage, run_publish, specs
from meshwork.storage import landing, warehouse


@dataclass
class ProductContext:
    """What a product function gets: its warehouse connection and its declared inputs."""

    con: duckdb.DuckDBPyConnection
    product: Product
    reader: PortReader
    log: object

    def input(self, product_key: str) -> duckdb.DuckDBPyRelation:
        """A declared input port (``domain/product``) as a relation over its latest snapshot."""
        return self.reader.relation(product_key)

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        """A table of this domain's own warehouse (e.g. another product of the same domain)."""
        return self.con.table(quote(name))

    def source_path(self, system: str, table: str) -> Path:
        """The landing folder of an operational source system's export."""
        return settings.sources_dir() / system / table


ProductFunction = Callable[[ProductContext], duckdb.DuckDBPyRelation]


def load_function(product: Product) -> tuple[ProductFunction, Path]:
    entry = product.descriptor.implementation.entrypoint or f"products.{product.name}:build"
    module_name, _, attr = entry.partition(":")
    full = f"domains.{product.domain}.{module_name}"
    try:
        module = importlib.import_module(full)
        fn = getattr(module, attr or "build")
    except (ImportError, AttributeError) as exc:
        raise MeshDefinitionError(
            [
                Problem(
                    f"cannot load the python implementation '{full}:{attr}': {exc}",
                    file=product.path,
                    field="implementation.entrypoint",
                    product=product.key,
                )
            ]
        ) from exc
    return fn, Path(inspect.getfile(module))


def product_asset(mesh: Mesh, product: Product) -> dg.AssetsDefinition:
    fn, source = load_function(product)

    @dg.multi_asset(
        name=f"{product.domain}__{product.name}",
        specs=[specs.asset_spec(mesh, product, "python", [source])],
        pool=warehouse.pool(product.domain),
    )
    @specs.signed
    def _build(context: dg.AssetExecutionContext):
        run_lineage.started(context, mesh, product)
        reads: list[ResolvedPort] = []
        try:
            rows = _materialize(context, mesh, product, fn, reads)
        except BaseException as exc:
            run_lineage.failed(context, mesh, product, exc, reads)
            raise
        return dg.MaterializeResult(
            asset_key=specs.asset_key(product.key),
            metadata={"dagster/row_count": rows, **input_metadata(reads)},
        )

    return _build


def _materialize(
    context: dg.AssetExecutionContext, mesh: Mesh, product: Product, fn: ProductFunction, reads: list[ResolvedPort]
) -> int:
    """Build the product's table; ``reads`` collects the ports read, even when the build then fails."""
    with warehouse.connect(product.domain) as con:
        if problems := landing.ingest_problems(con, [product]):
            raise dg.Failure(description="the landing files do not match the descriptor:\n- " + "\n- ".join(problems))
        reader = PortReader(mesh, product, con, run_id=context.run.run_id)
        reader.reads = reads
        reader.staged = run_publish.staged_in_run(context, product.domain)
        relation = fn(ProductContext(con=con, product=product, reader=reader, log=context.log))
        staging = f"{product.name}__mesh_new"
        con.execute(f"DROP TABLE IF EXISTS {quote(staging)}")
        relation.create(staging)
        # Swap the new table in atomically: the publish gate never sees a half-built table.
        con.execute("BEGIN")
        con.execute(f"DROP TABLE IF EXISTS {quote(product.name)}")
        con.execute(f"ALTER TABLE {quote(staging)} RENAME TO {quote(product.name)}")
        warehouse.record_build(con, product.name, context.run.run_id)
        con.execute("COMMIT")
        rows = con.execute(f"SELECT count(*) FROM {quote(product.name)}").fetchone()
    return rows[0] if rows else 0


def input_metadata(reads: list[ResolvedPort]) -> dict[str, Any]:
    return {
        "meshwork/input_snapshots": ", ".join(f"{r.ref}/{r.snapshot_id}" for r in reads) or "(none)",
        **run_lineage.reads_metadata(reads),
    }
