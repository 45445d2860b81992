"""``mesh upgrade``: rewrite the mesh's contracts into the forms the standards' own schemas accept."""

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
    """Rewrite the mesh's contracts into the forms the ODCS schemas accept, and say what changed.

    Every contract moves to the newest released ODCS version Meshwork ships (apiVersion, allowed
    values as quality rules, fully qualified foreign keys).

    Exit 2 when the mesh still has definition problems afterwards (listed), else 0.
    """
    result = upgrade(dry_run=dry_run)
    problems = [] if dry_run else [str(p) for p in validate_project().problems]
    authoring_output.upgrade_result(result.to_dict(), problems, as_json)
    sys.exit(EXIT_INVALID if problems else EXIT_OK)
