"""``mesh catalog``: the static HTML catalog of the mesh."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from meshwork.catalog import site
from meshwork.cli import broken, output
from meshwork.cli.output import EXIT_FAILED, EXIT_OK


@click.group("catalog")
def catalog_group() -> None:
    """The static HTML catalog of every domain and product (plus catalog.json)."""


@catalog_group.command("build")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: $MESH_HOME/catalog, or MESH_CATALOG_DIR).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def catalog_build(out: Path | None, as_json: bool) -> None:
    """Write index.html with search, one page per product, and catalog.json.

    On a broken mesh it still writes the catalog of everything that loads, lists what is broken (on
    stderr, at the top of index.html and in catalog.json) and keeps the last pages of products that do
    not load; it exits 0, since the catalog was written.
    """
    mesh = output.load_mesh_or_exit(strict=False)
    broken.tell(mesh)
    try:
        summary = site.build(mesh, out)
    except OSError as exc:
        output.fail(f"cannot write the catalog: {exc}", EXIT_FAILED)
    output.catalog_summary(summary, as_json)
    sys.exit(EXIT_OK)
