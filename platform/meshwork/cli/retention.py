"""``mesh retention``: purge what each product keeps beyond its declared retention."""

from __future__ import annotations

import click

from meshwork.cli import output
from meshwork.governance import retention


@click.group("retention")
def retention_group() -> None:
    """Purge port snapshots older than each product's declared retention."""


@retention_group.command("purge")
@click.option("--domain", "domains", multiple=True)
@click.option("--json", "as_json", is_flag=True)
def retention_purge(domains: tuple[str, ...], as_json: bool) -> None:
    """Delete expired snapshots and rows now (the code locations also do it daily at 03:00)."""
    output.retention_purge(retention.purge(output.load_mesh_or_exit(), list(domains) or None), as_json)
