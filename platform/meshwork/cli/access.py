"""``mesh access``: request, approve, deny, revoke and list access to restricted ports.

In the enforced mode (``MESH_SERVICE_URL``) every step is a call to the control plane as the person
whose token is in ``MESH_SERVICE_TOKEN``: the service decides who may request and approve, and
``--by`` is not used (the identity is the credential).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_INVALID
from meshwork.core import settings
from meshwork.core.errors import MeshError
from meshwork.governance import access
from meshwork.model import grants
from meshwork.model.grants import AccessRequest
from meshwork.ports import service_client


@click.group("access")
def access_group() -> None:
    """Request, approve, deny and revoke access to restricted ports (every decision is audited)."""


def _run(step: Callable[[], AccessRequest], as_json: bool) -> None:
    """Take one step of the access flow: exit 2 with the reason when it is refused (nothing changed)."""
    try:
        result = step()
    except (access.AccessError, MeshError) as exc:
        output.fail(str(exc), EXIT_INVALID)
    output.access_request(result, as_json)


def _remote(method: str, path: str, body: dict | None = None) -> AccessRequest:
    """One step of the flow, taken by the control plane (enforced mode)."""
    answer = service_client.call(method, path, body)
    known = {f.name for f in dataclasses.fields(AccessRequest)}
    return AccessRequest(**{k: v for k, v in answer.items() if k in known})


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.date().isoformat() if value else None


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
    if settings.service_url():
        body = {"consumer": consumer, "port": port, "reason": reason, "pii": pii, "expires": _iso(expires)}
        _run(lambda: _remote("POST", "/v1/access/requests", body), as_json)
        return
    # Missing grants must not stop the request that fixes them, nor a broken domain elsewhere in the mesh.
    mesh = output.load_mesh_or_exit(check_grants=False, strict=False)
    _run(lambda: access.request(mesh, consumer, port, reason, pii, _date(expires), by=by), as_json)


def _decision(name: str) -> click.Command:
    @access_group.command(name, help=f"{name.capitalize()} an access request (REQUEST_ID from `mesh access list`).")
    @click.argument("request_id")
    @click.option(
        "--by",
        default=None,
        help="Who takes the decision (recorded in the audit log); an approver cannot be the requester. "
        "Required in the local mode; in the enforced mode the token says who you are.",
    )
    @click.option(
        "--expires",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Set or change the expiry (approve only).",
    )
    @click.option("--json", "as_json", is_flag=True)
    def command(request_id: str, by: str | None, expires: dt.datetime | None, as_json: bool) -> None:
        if settings.service_url():
            body = {"expires": _iso(expires)} if expires else {}
            _run(lambda: _remote("POST", f"/v1/access/requests/{request_id}/{name}", body), as_json)
            return
        if not by:
            output.fail("a decision names who took it (--by)", EXIT_INVALID)
        _run(lambda: access.decide(request_id, name, by, _date(expires)), as_json)

    return command


approve, deny, revoke = (_decision(name) for name in ("approve", "deny", "revoke"))


@access_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def access_list(as_json: bool) -> None:
    """Every request with its status; approvals the audit log does not prove are flagged as forged."""
    if settings.service_url():
        try:
            rows = service_client.call("GET", "/v1/access/requests")
        except MeshError as exc:
            output.fail(str(exc), EXIT_INVALID)
        output.access_requests([{**r, "forged": False} for r in rows], as_json)
        return
    output.access_requests(grants.access_requests(), as_json)
