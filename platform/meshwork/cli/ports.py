"""``mesh ports``: every output port's latest snapshot, and the check of its files."""

from __future__ import annotations

import sys

import click

from meshwork.cli import broken, output
from meshwork.cli.output import EXIT_FAILED, EXIT_OK
from meshwork.storage import stores
from meshwork.storage.inventory import port_summary, verify_ports


@click.group("ports")
def ports_group() -> None:
    """Inspect output ports and their snapshots."""


@ports_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def ports_list(as_json: bool) -> None:
    """Every port version with its latest snapshot and row count.

    On a broken mesh it still lists every port, a product whose definition does not load included
    (from what its store holds), says on stderr what is broken, and exits 0: it was asked to list.
    """
    mesh = output.load_mesh_or_exit(strict=False)
    broken.tell(mesh)
    output.port_list(port_summary(mesh, mesh.unloaded_products()), as_json)


@ports_group.command("verify")
@click.option("--json", "as_json", is_flag=True)
def ports_verify(as_json: bool) -> None:
    """Check every retained snapshot's files against its manifest checksums, and each `latest` pointer.

    Exit 1 when a snapshot or pointer is damaged. A broken definition does not stop it (a product whose
    descriptor does not load is verified from what its store holds); it is said on stderr.
    """
    mesh = output.load_mesh_or_exit(strict=False)
    broken.tell(mesh)
    report = verify_ports(mesh, mesh.unloaded_products())
    output.port_verification(report, stores.current().url, as_json)
    sys.exit(EXIT_FAILED if any(check.problems for check in report.values()) else EXIT_OK)
