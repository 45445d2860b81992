"""The authoring commands' output (`mesh new`, `mesh onboard`, `mesh contracts diff`, `mesh upgrade`):
text or ``--json``, on the same rules as ``meshwork.cli.output`` (stdout carries one JSON document)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from meshwork.cli.output import EXIT_INVALID

if TYPE_CHECKING:
    from meshwork.authoring.scaffold import Result as ScaffoldResult
    from meshwork.model.compatibility import PortDiff


def _json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def contract_diff(results: list[PortDiff], as_json: bool) -> None:
    blocked = [r for r in results if r.blocked]
    if as_json:
        _json({"ok": not blocked, "ports": [r.as_dict() for r in results]})
        return
    for r in results:
        if r.verdict in ("new", "unchanged"):
            click.echo(f"{r.port:<40} {r.verdict}")
            continue
        click.echo(f"{r.port:<40} {r.verdict}: {r.old_version} -> {r.new_version} (against {r.baseline})")
        for change in r.changes:
            click.echo(f"    {'BREAKING' if change.breaking else 'ok      '} {change.kind}: {change.detail}")
        if r.breaking:
            click.echo(f"    consumers of {r.port}: {', '.join(r.consumers) or 'none registered'}")
    if blocked:
        click.echo(
            f"\n{len(blocked)} port(s) would break registered consumers: publish the change as a new major "
            "version (a new output port beside the old one), or make it compatible.",
            err=True,
        )


def scaffold_result(result: ScaffoldResult, as_json: bool) -> None:
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else result.describe())


def scaffold_refused(reason: str, as_json: bool) -> NoReturn:
    """A scaffolding step was refused (nothing was written): the reason on stderr, exit 2."""
    click.echo(json.dumps({"ok": False, "error": reason}, indent=2) if as_json else f"error: {reason}", err=True)
    sys.exit(EXIT_INVALID)


def upgrade_result(result: dict[str, Any], problems: list[str], as_json: bool) -> None:
    """`mesh upgrade`: what changed per file, and what still does not load."""
    if as_json:
        return _json({**result, "problems": problems})
    verb = "changed" if result["written"] else "would change (dry run)"
    for file in result["files"]:
        click.echo(f"{file['path']}: {verb}")
        for change in file["changes"]:
            click.echo(f"  - {change}")
        if file["comments_dropped"]:
            click.echo("  ! its comments and inline style were not kept: review the diff")
    if not result["files"]:
        click.echo("nothing to upgrade: every contract and descriptor is already in the current forms")
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
