"""``mesh notices``: what the governance sensors told the owning teams, and redelivery to the webhook."""

from __future__ import annotations

import sys

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED, EXIT_OK
from meshwork.governance import notify


@click.group("notices")
def notices_group() -> None:
    """Notices the governance sensors sent to the owning teams (file outbox, webhook fallbacks)."""


@notices_group.command("list")
@click.option("--team", default=None, help="Only this team's notices.")
@click.option("--undelivered", is_flag=True, help="Only those a webhook has not accepted yet.")
@click.option("--json", "as_json", is_flag=True)
def notices_list(team: str | None, undelivered: bool, as_json: bool) -> None:
    output.notice_list(notify.outbox_notices(team, undelivered), as_json)


@notices_group.command("redeliver")
@click.option("--json", "as_json", is_flag=True)
def notices_redeliver(as_json: bool) -> None:
    """Send the notices the webhook (MESH_NOTIFY_WEBHOOK) missed; exit 1 if it still refuses them."""
    delivery = notify.redeliver()
    output.notice_delivery(delivery, as_json)
    sys.exit(EXIT_FAILED if delivery.error else EXIT_OK)
