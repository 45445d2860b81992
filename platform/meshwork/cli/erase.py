"""``mesh erase``: remove a data subject everywhere the mesh holds it (GDPR Art. 17)."""

from __future__ import annotations

import sys

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from meshwork.governance import erasure
from meshwork.runtime import build


@click.command("erase")
@click.option("--subject", required=True, help="<key>=<value> of the data subject, e.g. customer_id=42")
@click.option("--no-rebuild", is_flag=True, help="Do not rebuild downstream aggregates (run mesh build later).")
@click.option("--json", "as_json", is_flag=True)
def erase_command(subject: str, no_rebuild: bool, as_json: bool) -> None:
    """Erase a data subject from sources, warehouses and every retained port snapshot (GDPR Art. 17)."""
    mesh = output.load_mesh_or_exit()
    say = output.say(as_json)

    def rebuild(domains: list[str]) -> bool:
        return build.build(mesh, domains, progress=say).ok

    try:
        cert = erasure.erase(mesh, subject, None if no_rebuild else rebuild, progress=say)
    except (erasure.ErasureError, ValueError) as exc:
        output.fail(str(exc), EXIT_INVALID)
    output.erasure_certificate(cert, as_json)
    sys.exit(EXIT_OK if cert.verified_absent else EXIT_FAILED)
