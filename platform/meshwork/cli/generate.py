"""``mesh generate``: the example company's operational source files (no Dagster needed)."""

from __future__ import annotations

import time

import click

from meshwork.cli import output
from meshwork.example import sources


@click.command("generate")
@click.option("--orders", type=click.IntRange(min=1), default=None, help="Orders to generate (default 2000).")
@click.option("--seed", type=int, default=42, show_default=True)
def generate_command(orders: int | None, seed: int) -> None:
    """Generate the example company's operational source files under $MESH_HOME/sources."""
    say = output.say()
    start = time.monotonic()
    counts = sources.generate(
        sources.Scale(orders=orders or sources.DEFAULT_ORDERS, seed=seed), progress=lambda m: say(f"  {m}")
    )
    output.generated(counts, time.monotonic() - start)
