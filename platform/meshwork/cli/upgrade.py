"""``mesh upgrade``: rewrite the mesh's contracts and descriptors into the forms the standards' own schemas accept."""

from __future__ import annotations

import sys

import click

from meshwork.authoring.upgrade import upgrade
from meshwork.cli import authoring_output
from meshwork.cli.output import EXIT_INVALID, EXIT_OK
from meshwork.governance.validation import validate_project


@click.command("upgrade")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def upgrade_command(dry_run: bool, as_json: bool) -> None:
    """Rewrite the mesh's contracts and descriptors into the forms the ODCS and ODPS schemas accept.

    Every contract moves to the newest released ODCS version Meshwork ships (apiVersion, allowed
    values as quality rules, fully qualified foreign keys); every product descriptor becomes an ODPS
    v1.0.0 document (Meshwork's fields in customProperties, ports by name, version and contractId,
    the product's version, team and support). Each change is listed per file; files are written all
    or none, and a second run has nothing to do.

    Exit 2 when a file cannot be converted (nothing is written) or the mesh still has definition
    problems afterwards (listed), else 0.
    """
    result = upgrade(dry_run=dry_run)
    problems = result.errors or ([] if dry_run else [str(p) for p in validate_project().problems])
    authoring_output.upgrade_result(result.to_dict(), problems, as_json)
    sys.exit(EXIT_INVALID if problems else EXIT_OK)
