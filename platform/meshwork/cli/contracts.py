"""``mesh contracts``: classify contract changes and block the ones that would break consumers."""

from __future__ import annotations

import sys

import click

from meshwork.authoring.contract_diff import diff_mesh, git_baseline, published_baseline
from meshwork.cli import authoring_output, output
from meshwork.cli.output import EXIT_FAILED, EXIT_OK


@click.group("contracts")
def contracts_group() -> None:
    """Contract versions and change management."""


@contracts_group.command("diff")
@click.option(
    "--against",
    "ref",
    default=None,
    help="Compare with the contracts at this git ref (e.g. origin/main) instead of the published ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (for CI).")
def contracts_diff(ref: str | None, as_json: bool) -> None:
    """Classify every contract change as compatible or breaking and name the consumers it affects.

    Exits 1 only when a breaking change would reach a registered consumer without a new major
    version; 0 otherwise.
    """
    mesh = output.load_mesh_or_exit()
    results = diff_mesh(mesh, git_baseline(ref, mesh.project_dir) if ref else published_baseline)
    authoring_output.contract_diff(results, as_json)
    sys.exit(EXIT_FAILED if any(r.blocked for r in results) else EXIT_OK)
