"""``mesh lineage``: a product's lineage across domains, and re-sending undelivered OpenLineage events."""

from __future__ import annotations

import sys

import click

from meshwork.cli import broken, output
from meshwork.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from meshwork.core import settings
from meshwork.lineage import delivery
from meshwork.lineage.graph import product_lineage


class _LineageGroup(click.Group):
    """``mesh lineage D/P`` shows a product; ``mesh lineage replay`` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group("lineage", cls=_LineageGroup)
def lineage_group() -> None:
    """OpenLineage: a product's lineage (mesh lineage D/P) and re-sending undelivered events."""


@lineage_group.command("show")
@click.argument("key", metavar="DOMAIN/PRODUCT")
@click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True, help="Hops up and down.")
@click.option("--json", "as_json", is_flag=True)
def lineage_show(key: str, depth: int, as_json: bool) -> None:
    """Upstream and downstream products (across domains) and the lineage of the product's columns."""
    mesh = output.load_mesh_or_exit(strict=False)
    # Only a problem of the product asked about stops it: exit 2 with its problems.
    if key in mesh.unloaded_products():
        output.fail(
            f"{key} does not load:\n" + "\n".join(f"  - {p}" for p in mesh.problems if p.product == key), EXIT_INVALID
        )
    broken.tell(mesh, {key.split("/")[0]})
    if key not in mesh.products:
        known = ", ".join(sorted(mesh.products))
        output.fail(f"unknown product '{key}' (expected DOMAIN/PRODUCT, one of: {known})", EXIT_INVALID)
    output.lineage(product_lineage(mesh, key, depth), as_json)


@lineage_group.command("replay")
@click.option("--json", "as_json", is_flag=True)
def lineage_replay(as_json: bool) -> None:
    """Re-send the events in the lineage outbox; delivered ones are removed. Exit 1 if some remain."""
    outcome = delivery.replay()
    output.lineage_replay(outcome, settings.lineage_outbox(), as_json)
    sys.exit(EXIT_FAILED if outcome.remaining else EXIT_OK)
