"""``mesh ports``: every output port's latest snapshot, and the check of its files."""

from __future__ import annotations

import sys

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED, EXIT_OK
from meshwork.storage import stores
from meshwork.storage.inventory import port_summary, verify_ports


@click.group("ports")
def ports_group() -> None:
    """Inspect output ports and their snapshots."""


@ports_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def ports_list(as_json: bool) -> None:
    """Every port version with its latest snapshot and row count."""
    output.port_list(port_summary(output.load_mesh_or_exit()), as_json)


@ports_group.command("verify")
@click.option("--json", "as_json", is_flag=True)
def ports_verify(as_json: bool) -> None:
    """Check every retained snapshot's files against its manifest checksums, and each `latest` pointer."""
    report = verify_ports(output.load_mesh_or_exit())
    output.port_verification(report, stores.current().url, as_json)
    sys.exit(EXIT_FAILED if any(check.problems for check in report.values()) else EXIT_OK)
