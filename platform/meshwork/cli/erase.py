"""``mesh erase``: remove a data subject everywhere the mesh holds it (GDPR Art. 17)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from meshwork.core import settings
from meshwork.governance import erasure
from meshwork.runtime import build, build_processes


@click.command("erase")
@click.option("--subject", required=True, help="<key>=<value> of the data subject, e.g. customer_id=42")
@click.option("--no-rebuild", is_flag=True, help="Do not rebuild downstream aggregates (run mesh build later).")
@click.option("--json", "as_json", is_flag=True)
def erase_command(subject: str, no_rebuild: bool, as_json: bool) -> None:
    """Erase a data subject from sources, warehouses, every retained port snapshot and every file under
    MESH_HOME (Dagster instance, logs, lineage events, catalog), and certify it place by place.

    Exit 0 when every place was checked and holds nothing of the subject, 1 when a place could not be
    cleaned or checked (the certificate names it) or the rebuild failed, 2 when the request is invalid
    (nothing changed)."""
    mesh = output.load_mesh_or_exit()
    say = output.say(as_json)
    stop = threading.Event()

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        # No build of any domain runs while rows are deleted and files rewritten: a run that read a
        # source before the erasure would write the subject back. Sorted, like every lock taker.
        domains = set(mesh.domains)
        if settings.warehouses_dir().is_dir():  # domains deleted from the mesh keep their warehouse
            domains |= {p.name for p in settings.warehouses_dir().iterdir() if p.is_dir()}
        with contextlib.ExitStack() as stack:
            for domain in sorted(domains):
                stack.enter_context(build_processes.domain_lock(domain, stop, say))
            yield

    def rebuild(domains: list[str]) -> bool:
        return build.build(mesh, domains, progress=say).ok

    try:
        cert = erasure.erase(mesh, subject, None if no_rebuild else rebuild, progress=say, hold=hold)
    except (erasure.ErasureError, ValueError) as exc:
        output.fail(str(exc), EXIT_INVALID)
    output.erasure_certificate(cert, as_json)
    if not as_json:
        click.echo(f"{len(cert.places)} place(s) checked; certificate: $MESH_HOME/governance/erasures/{cert.id}.json")
        for place in cert.failed_places:
            click.echo(f"  NOT VERIFIED {place.place} ({place.kind}): {place.result} [{place.method}]")
    if cert.failed_places:
        names = ", ".join(p.place for p in cert.failed_places)
        click.echo(f"erasure not verified: {len(cert.failed_places)} place(s) not clean: {names}", err=True)
    if cert.rebuild_failed:
        click.echo(
            f"the subject is erased, but rebuilding {', '.join(cert.rebuilt_domains)} failed: run mesh build", err=True
        )
    sys.exit(EXIT_OK if cert.verified_absent and not cert.rebuild_failed else EXIT_FAILED)
