"""What a command left out of a partly broken mesh, and why: beside :mod:`meshwork.cli.output`, the only
CLI module that prints. Builds of other domains, read-only listings and the access flow carry on with
what loads and say the rest on stderr (so a ``--json`` stdout stays one document).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from meshwork.model.mesh import Mesh


def tell(mesh: Mesh, only: set[str] | None = None) -> None:
    """On stderr, what does not load (of the domains in ``only``, default all): a command that carries on
    with the rest of the mesh says what it left out and why, with file, field and product."""
    shown = {d: ps for d, ps in sorted(mesh.broken.items()) if only is None or d in only}
    charged = {p for ps in mesh.broken.values() for p in ps}
    general = [p for p in mesh.problems if p not in charged] if only is None else []
    if not shown and not general:
        return
    names = ", ".join(shown) or "none"
    click.echo(
        f"warning: {len(shown)} domain(s) broken ({names}): they do not load or build until fixed, and the "
        "rest of the mesh carries on; `mesh check` lists every problem:",
        err=True,
    )
    for domain, problems in shown.items():
        click.echo(f"  {domain}:", err=True)
        for p in problems:
            click.echo(f"    - {p}", err=True)
    for p in general:
        click.echo(f"  - {p}", err=True)
