"""``mesh serve`` and ``mesh identities``: the enforced mode's control plane and its identities.

``mesh identities`` works on the service's own database and storage credentials, so it runs where
the service runs (an operator's toolbox pod in Kubernetes), never in a domain's pod.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED, EXIT_OK
from meshwork.core import settings
from meshwork.core.errors import MeshError


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8700, show_default=True)
@click.option("--log-level", default="info", show_default=True)
def serve_command(host: str, port: int, log_level: str) -> None:
    """Run the control plane (enforced mode): grants, vended reads, publish commits, the signed audit log."""
    # Deferred: uvicorn and the service are needed only by this command.
    import uvicorn

    # Deferred as well: the service's modules load SQLAlchemy, Starlette and boto3.
    from meshwork.service import app, vends

    try:
        vends.storage()  # refuse to start on a store the service cannot scope (a local folder)
    except MeshError as exc:
        output.fail(str(exc), EXIT_FAILED)
    click.echo(f"mesh serve: control plane on http://{host}:{port} (state: {settings.service_dir()})", err=True)
    uvicorn.run(app.create_app(), host=host, port=port, log_level=log_level)


@click.group("identities")
def identities_group() -> None:
    """Issue, rotate and revoke the credentials domains' runs and people use with the control plane."""


def _kind_name(domain: str | None, person: str | None) -> tuple[str, str]:
    if bool(domain) == bool(person):
        output.fail("name exactly one of --domain or --person", EXIT_FAILED)
    return ("domain", domain) if domain else ("person", person)  # type: ignore[return-value]


def _run(change):
    # Deferred: SQLAlchemy and boto3 load only for these commands.
    from meshwork.service import state

    try:
        with state.session() as s:
            result = change(s)
            s.commit()
            return result
    except MeshError as exc:
        output.fail(str(exc), EXIT_FAILED)


_WRITE_HELP = "also write <folder>/<name>.json (mode 600), the file MESH_DOMAIN_CREDENTIALS_DIR points at"


def _write(result: dict, folder: str | None) -> dict:
    if folder:
        path = Path(folder) / f"{result['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"token": result["token"], "storage": result["storage"]}, f)
        click.echo(f"credentials written to {path}", err=True)
    return result


def _storage_user(domain: str) -> str:
    return f"mesh-domain-{domain}"


@identities_group.command("issue")
@click.option("--domain", default=None, help="a domain: its runs' token and its own storage keys")
@click.option("--person", default=None, help="a person (requests and approves access)")
@click.option("--team", "teams", multiple=True, help="a person's team (repeat)")
@click.option("--role", "roles", multiple=True, help="pii-approver, admin (repeat)")
@click.option("--write-credentials", "folder", type=click.Path(file_okay=False), default=None, help=_WRITE_HELP)
@click.option("--json", "as_json", is_flag=True)
def identities_issue(domain, person, teams, roles, folder, as_json: bool) -> None:
    """Issue a credential; it is shown once. A domain also gets storage keys for its own prefix only."""
    from meshwork.service import identities, vends  # deferred: SQLAlchemy and boto3 only for this command

    kind, name = _kind_name(domain, person)

    def change(s):
        issued = identities.issue(s, kind, name, list(teams), list(roles))
        storage = None
        if kind == "domain":
            store = vends.storage()
            issued.identity.storage_user = _storage_user(name)
            storage = store.create_user(issued.identity.storage_user, store.domain_policy(name))
        return {**identities.describe(issued.identity), "token": issued.token, "storage": storage}

    _show(_write(_run(change), folder), as_json)


@identities_group.command("rotate")
@click.option("--domain", default=None)
@click.option("--person", default=None)
@click.option("--write-credentials", "folder", type=click.Path(file_okay=False), default=None, help=_WRITE_HELP)
@click.option("--json", "as_json", is_flag=True)
def identities_rotate(domain, person, folder, as_json: bool) -> None:
    """Replace a credential (and a domain's storage keys); the old ones stop working at once."""
    from meshwork.service import identities, vends  # deferred: SQLAlchemy and boto3 only for this command

    kind, name = _kind_name(domain, person)

    def change(s):
        issued = identities.rotate(s, kind, name)
        user = issued.identity.storage_user
        storage = vends.storage().replace_key(user) if user else None
        return {**identities.describe(issued.identity), "token": issued.token, "storage": storage}

    _show(_write(_run(change), folder), as_json)


@identities_group.command("revoke")
@click.option("--domain", default=None)
@click.option("--person", default=None)
@click.option("--json", "as_json", is_flag=True)
def identities_revoke(domain, person, as_json: bool) -> None:
    """Disable a credential and delete a domain's storage keys."""
    from meshwork.service import identities, vends  # deferred: SQLAlchemy and boto3 only for this command

    kind, name = _kind_name(domain, person)

    def change(s):
        identity = identities.revoke(s, kind, name)
        if identity.storage_user:
            vends.storage().delete_user(identity.storage_user)
        return identities.describe(identity)

    _show(_run(change), as_json)


@identities_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def identities_list(as_json: bool) -> None:
    """Every identity (never a secret)."""
    from meshwork.service import identities, state  # deferred: SQLAlchemy only for this command

    rows = _run(lambda s: [identities.describe(i) for i in s.query(state.Identity).all()])
    _show(rows, as_json)


def _show(data, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    elif isinstance(data, list):
        for row in data:
            click.echo(f"{row['kind']:7} {row['name']:24} {'active' if row['active'] else 'revoked':8} {row['id']}")
    else:
        for key, value in data.items():
            if value is not None:
                click.echo(f"{key}: {value}")
        if data.get("token"):
            click.echo("Store the token (and storage keys) now: they are not shown again.", err=True)
    sys.exit(EXIT_OK)
