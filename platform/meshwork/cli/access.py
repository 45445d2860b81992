"""``mesh access``: request, approve, deny, revoke and list access to restricted ports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_INVALID
from meshwork.governance import access
from meshwork.model import grants
from meshwork.model.grants import AccessRequest


@click.group("access")
def access_group() -> None:
    """Request, approve, deny and revoke access to restricted ports (every decision is audited)."""


def _run(step: Callable[[], AccessRequest], as_json: bool) -> None:
    """Take one step of the access flow: exit 2 with the reason when it is refused (nothing changed)."""
    try:
        result = step()
    except access.AccessError as exc:
        output.fail(str(exc), EXIT_INVALID)
    output.access_request(result, as_json)


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@access_group.command("request")
@click.argument("consumer")
@click.argument("port")
@click.option("--reason", required=True, help="The purpose the data is needed for.")
@click.option("--pii", is_flag=True, help="Ask to read PII columns in clear.")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option(
    "--by", default=None, help="Who asks (recorded in the audit log; they cannot approve it). Default: your OS user."
)
@click.option("--json", "as_json", is_flag=True)
def access_request(
    consumer: str, port: str, reason: str, pii: bool, expires: dt.datetime | None, by: str | None, as_json: bool
) -> None:
    """CONSUMER (domain/product) asks to read PORT (domain/product@vN)."""
    # Missing grants must not stop the request that fixes them.
    mesh = output.load_mesh_or_exit(check_grants=False)
    _run(lambda: access.request(mesh, consumer, port, reason, pii, _date(expires), by=by), as_json)


def _decision(name: str) -> click.Command:
    @access_group.command(name, help=f"{name.capitalize()} an access request (REQUEST_ID from `mesh access list`).")
    @click.argument("request_id")
    @click.option(
        "--by",
        required=True,
        help="Who takes the decision (recorded in the audit log); an approver cannot be the requester.",
    )
    @click.option(
        "--expires",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Set or change the expiry (approve only).",
    )
    @click.option("--json", "as_json", is_flag=True)
    def command(request_id: str, by: str, expires: dt.datetime | None, as_json: bool) -> None:
        _run(lambda: access.decide(request_id, name, by, _date(expires)), as_json)

    return command


approve, deny, revoke = (_decision(name) for name in ("approve", "deny", "revoke"))


@access_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def access_list(as_json: bool) -> None:
    """Every request with its status; approvals the audit log does not prove are flagged as forged."""
    output.access_requests(grants.access_requests(), as_json)
