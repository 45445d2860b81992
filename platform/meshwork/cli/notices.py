"""``mesh notices``: what the governance sensors told the owning teams, where, when and whether it arrived,
and redelivery of what a channel missed."""

from __future__ import annotations

import sys

import click

from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from meshwork.governance import notify


@click.group("notices")
def notices_group() -> None:
    """Notices the governance sensors sent to the owning teams on each channel (outbox, webhook, slack, email)."""


@notices_group.command("list")
@click.option("--team", default=None, help="Only this team's notices.")
@click.option("--undelivered", is_flag=True, help="Only those a channel has not accepted yet.")
@click.option("--channel", type=click.Choice(["outbox", "webhook", "slack", "email"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def notices_list(team: str | None, undelivered: bool, channel: str | None, as_json: bool) -> None:
    """One line per notice per channel: when, which team, what, where it went and whether it arrived."""
    output.notice_list(notify.outbox_notices(team, undelivered, channel), as_json)


@notices_group.command("redeliver")
@click.option("--json", "as_json", is_flag=True)
def notices_redeliver(as_json: bool) -> None:
    """Send the notices a channel missed (MESH_NOTIFY_WEBHOOK, _SLACK, _SMTP); exit 1 if some still fail."""
    try:
        delivery = notify.redeliver()
    except ValueError as exc:  # a malformed channel URL in the settings
        output.fail(str(exc), EXIT_INVALID)
    output.notice_delivery(delivery, as_json)
    sys.exit(EXIT_FAILED if delivery.error else EXIT_OK)
