"""``mesh audit``: verify and query the hash-chained, signed audit log."""

from __future__ import annotations

import sys
from urllib.parse import urlencode

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from meshwork.core import audit, settings
from meshwork.core.errors import MeshError
from meshwork.ports import service_client


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log of reads, grant decisions and erasures."""


@audit_group.command("verify")
@click.option(
    "--public-key",
    "pinned",
    default=None,
    metavar="HEX",
    help="Check the signatures against this key (the content of governance/audit-signing.pub, kept elsewhere) "
    "rather than the one in MESH_HOME, which whoever can write MESH_HOME could replace.",
)
@click.option("--json", "as_json", is_flag=True)
def audit_verify(pinned: str | None, as_json: bool) -> None:
    """Check the hash chain and its signed head; exit 1 if any line was edited, removed, inserted,
    reordered or made unreadable, the log was truncated, emptied, appended to or recomputed, or the head,
    checkpoints or key deleted or replaced."""
    if settings.service_url():  # enforced mode: the service's log, verified by the service (admin role)
        answer = _remote("GET", "/v1/audit/verify")
        output.audit_verification(answer["problems"], answer["entries"], as_json)
        sys.exit(EXIT_FAILED if answer["problems"] else EXIT_OK)
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pinned)) if pinned else None
    except ValueError:
        output.fail("--public-key must be the 64 hex digits of an Ed25519 public key", EXIT_INVALID)
    problems = audit.verify(key)
    output.audit_verification(problems, len(audit.entries()), as_json)
    sys.exit(EXIT_FAILED if problems else EXIT_OK)


@audit_group.command("list")
@click.option("--action", default=None, help="e.g. port.read, port.read.refused, access")
@click.option("--consumer", default=None)
@click.option("--port", "port_ref", default=None, help="e.g. sales/orders@v1")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def audit_list(action: str | None, consumer: str | None, port_ref: str | None, limit: int, as_json: bool) -> None:
    """Query the audit log (newest last)."""
    if settings.service_url():
        query = urlencode({k: v for k, v in {"action": action, "limit": limit}.items() if v is not None})
        rows = [
            r
            for r in _remote("GET", f"/v1/audit?{query}")
            if (consumer is None or r.get("consumer") == consumer) and (port_ref is None or r.get("port") == port_ref)
        ]
        output.audit_entries(rows, as_json)
        return
    output.audit_entries(audit.query(action, consumer, port_ref, limit), as_json)


def _remote(method: str, path: str):
    try:
        return service_client.call(method, path)
    except MeshError as exc:
        output.fail(str(exc), EXIT_INVALID)
