"""``mesh new`` and ``mesh onboard``: scaffold a domain or product, or bring in a dbt project."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from meshwork.authoring import onboard, scaffold
from meshwork.authoring.changeset import ScaffoldError
from meshwork.cli import authoring_output
from meshwork.core import settings
from meshwork.model.descriptors import owner_parts


def _scaffold(step: Callable[[], scaffold.Result], as_json: bool) -> None:
    """Take one scaffolding step: exit 2 with the reason when it is refused (nothing was written)."""
    try:
        result = step()
    except ScaffoldError as exc:
        authoring_output.scaffold_refused(str(exc), as_json)
    authoring_output.scaffold_result(result, as_json)


@click.group("new")
def new_group() -> None:
    """Create a domain or a data product that passes `mesh check` at once."""


@new_group.command("domain")
@click.argument("name")
@click.option(
    "--owner", required=True, help="The owning team: <team>, team:<team> (Dagster's form) or the team's e-mail address."
)
@click.option("--email", default=None, help="The team's contact email (default: <owner>@example.com, to edit).")
@click.option("--description", default=None, help="What the domain covers (default: a TODO to edit).")
@click.option("--json", "as_json", is_flag=True)
def new_domain(name: str, owner: str, email: str | None, description: str | None, as_json: bool) -> None:
    """Create domains/NAME/ and register it as a code location and a dbt group."""
    team, address = owner_parts(owner)
    email = email or address
    _scaffold(lambda: scaffold.new_domain(settings.project_dir(), name, team, email, description), as_json)


@new_group.command("product")
@click.argument("key", metavar="DOMAIN/NAME")
@click.option("--kind", required=True, type=click.Choice(["source-aligned", "aggregate", "consumer-aligned"]))
@click.option("--impl", "engine", required=True, type=click.Choice(["dbt", "python"]))
@click.option("--input", "inputs", multiple=True, help="An input port, <domain>/<product>@v<major> (repeatable).")
@click.option("--purpose", default=None, help="What the product is (default: a TODO to edit).")
@click.option("--source", default=None, help="source-aligned: the <system>/<table> export it ingests.")
@click.option("--json", "as_json", is_flag=True)
def new_product(
    key: str, kind: str, engine: str, inputs: tuple[str, ...], purpose: str | None, source: str | None, as_json: bool
) -> None:
    """Create a product: descriptor, ODCS contract, dbt model or Python function, and a test."""
    _scaffold(
        lambda: scaffold.new_product(
            settings.project_dir(), key, kind, engine, list(inputs), purpose=purpose, source_spec=source
        ),
        as_json,
    )


@click.group("onboard")
def onboard_group() -> None:
    """Bring an existing project into the mesh."""


@onboard_group.command("dbt")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--domain", required=True, help="The new domain the project becomes.")
@click.option("--owner", required=True, help="The owning team.")
@click.option("--email", default=None, help="The team's contact email (default: <owner>@example.com, to edit).")
@click.option("--public", default=None, help="Models that become products, comma-separated (default: access: public).")
@click.option(
    "--packages",
    default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of vendored dbt packages (one folder each, as `dbt deps` makes them); default: the project's own.",
)
@click.option(
    "--landing",
    default="parquet",
    type=click.Choice(["parquet", "csv"]),
    help="The format the project's sources land in under $MESH_HOME/sources/ (default: parquet).",
)
@click.option("--json", "as_json", is_flag=True)
def onboard_dbt(
    path: Path,
    domain: str,
    owner: str,
    email: str | None,
    public: str | None,
    packages: Path | None,
    landing: str,
    as_json: bool,
) -> None:
    """Copy a standalone dbt-core project at PATH into the mesh as a domain; its public models become products."""
    models = [m.strip() for m in public.split(",") if m.strip()] if public is not None else None
    _scaffold(
        lambda: onboard.onboard_dbt(settings.project_dir(), path, domain, owner, models, email, packages, landing),
        as_json,
    )
