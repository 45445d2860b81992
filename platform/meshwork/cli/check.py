"""``mesh check``: the CI gate over the whole mesh definition and its policies."""

from __future__ import annotations

import sys

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from meshwork.governance.validation import validate_project
from meshwork.locations.domain import asset_graph


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check_command(as_json: bool) -> None:
    """The CI gate: load every descriptor, contract and dbt model, then evaluate every policy.

    Exit 2 when the mesh definition is invalid, 1 when an error-severity policy is violated.
    """
    # The asset graph is built only if a policy asks for it, once the mesh has loaded without problems.
    report = validate_project(asset_graph=asset_graph)
    output.check_report(report, as_json)
    sys.exit(EXIT_INVALID if report.problems else EXIT_FAILED if report.errors else EXIT_OK)
