"""``mesh build``: build the mesh through Dagster."""

from __future__ import annotations

import signal
import sys
from datetime import UTC, datetime

import click

from meshwork.cli import broken, output
from meshwork.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from meshwork.core import settings
from meshwork.example import sources
from meshwork.runtime import warm_runs
from meshwork.storage.inventory import port_summary


def built_ports(result, started: datetime, rows: list[dict]) -> list[dict]:
    """The ports of the domains this build ran, each marked with whether this build published it."""
    built = {d.domain for d in result.domains}
    return [
        {**r, "published_now": r["published_at"] is not None and datetime.fromisoformat(r["published_at"]) >= started}
        for r in rows
        if r["domain"] in built
    ]


def mode_banner() -> str:
    if settings.service_url():
        return f"mode: enforced: reads, grants, publishes and audit go through {settings.service_url()}"
    return "mode: local: one OS user, every domain's code trusted (docs/security.md says what that means)"


@click.command("build")
@click.option("--domain", "domains", multiple=True, help="Build only these domains (repeatable).")
@click.option(
    "--orders", type=click.IntRange(min=1), default=None, help="Regenerate the example source data at this scale first."
)
@click.option(
    "--parallel", type=click.IntRange(min=1), default=2, show_default=True, help="Domains built at the same time."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--verbose", is_flag=True, help="Also print the stack traces of failed steps and the log's tail.")
def build_command(domains: tuple[str, ...], orders: int | None, parallel: int, as_json: bool, verbose: bool) -> None:
    """Build the whole mesh (or some domains) through Dagster, in dependency order.

    A broken domain (its definition, or an input that does not load, is removed or not granted) is not
    built, nor are the domains downstream of it in this build; every other domain is. Exit 0 when all
    asked-for domains built, 1 when a run failed, 2 when a domain asked for was held back as broken.
    """
    # The domains' runs and the metrics run fork from one warm worker, started first so that its
    # imports (Dagster, dbt) overlap this process's own and the loading of the mesh.
    with warm_runs.session():
        _build(domains, orders, parallel, as_json, verbose)


def _build(domains: tuple[str, ...], orders: int | None, parallel: int, as_json: bool, verbose: bool) -> None:
    # Deferred, all three: they import Dagster, which the warm worker is importing at the same time.
    from meshwork.locations import metric_runs
    from meshwork.runtime import build  # deferred, as above
    from meshwork.runtime.instance import InstanceUnavailable, storage_description  # deferred, as above

    mesh = output.load_mesh_or_exit(strict=False)
    known = set(mesh.domains) | set(mesh.broken)
    unknown = sorted(set(domains) - known)
    if unknown:
        output.fail(f"unknown domain(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}", EXIT_INVALID)
    buildable, held = mesh.buildable(list(domains) or None)
    broken.tell(mesh, set(domains) if domains else None)
    if not buildable:
        output.fail(f"nothing to build: {'; '.join(f'{d}: {why}' for d, why in held.items())}", EXIT_INVALID)
    say = output.say(as_json)
    if orders or not settings.sources_dir().exists():
        say(f"generating example source data ({orders or sources.DEFAULT_ORDERS:,} orders) …")
        sources.generate(sources.Scale(orders=orders or sources.DEFAULT_ORDERS))
    say(f"building {len(buildable)} domain(s) with MESH_HOME={settings.mesh_home()}")
    for domain, why in held.items():
        say(f"[skip] {domain}: {why}")
    say(f"Dagster instance storage: {storage_description()}")
    say(mode_banner())
    started = datetime.now(UTC)
    measured = None
    try:
        result = build.build(mesh, buildable, parallelism=parallel, progress=say, verbose=verbose)
    except InstanceUnavailable as exc:
        output.fail(f"{exc}; nothing was built", EXIT_FAILED)
    if result.domains and not (result.interrupted or result.storage_error):  # failed publishes count too
        measured = metric_runs.measure(result.domains[0].log.parent)
    if measured is not None:
        say(measured.message if measured.ok else f"warning: {measured.message}; the products are not affected")
    output.build_summary(result, built_ports(result, started, port_summary(mesh)), as_json, held)
    if result.interrupted:
        output.fail(f"interrupted by {signal.Signals(result.interrupted).name}: its runs were stopped", EXIT_FAILED)
    if result.storage_error:  # the build is failed then
        output.fail(f"{result.storage_error}; rerun `mesh build` once it answers again", EXIT_FAILED)
    sys.exit(EXIT_FAILED if not result.ok else EXIT_INVALID if held else EXIT_OK)
