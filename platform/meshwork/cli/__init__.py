"""``mesh``: the Meshwork command line (build, inspect and check the mesh).

One module per command group, named after its concept (``new`` also holds `mesh onboard`,
``serve`` also `mesh identities`); ``main`` imports a command's module only when the
command is resolved, so ``mesh audit verify`` does not pay for Dagster. Commands parse their options,
call the library and hand the result to ``output``, the only module that prints (text or ``--json``).

Imports: anything below; it is the top layer. Command modules import the library at the top, since
``main`` loads them lazily; ``output`` stays light because every command imports it.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# Command name -> ("module:attribute" of its click command or group, the first line of its help).
# The help is repeated here so that `mesh --help` lists every command without importing any of them
# (several import Dagster); tests/unit/test_cli.py keeps each line equal to the command's own help.
COMMANDS = {
    "access": (
        "meshwork.cli.access:access_group",
        "Request, approve, deny and revoke access to restricted ports (every decision is audited).",
    ),
    "audit": ("meshwork.cli.audit:audit_group", "The hash-chained audit log of reads, grant decisions and erasures."),
    "build": (
        "meshwork.cli.build:build_command",
        "Build the whole mesh (or some domains) through Dagster, in dependency order.",
    ),
    "catalog": (
        "meshwork.cli.catalog:catalog_group",
        "The static HTML catalog of every domain and product (plus catalog.json).",
    ),
    "check": (
        "meshwork.cli.check:check_command",
        "The CI gate: load every descriptor, contract and dbt model, then evaluate every policy.",
    ),
    "contracts": ("meshwork.cli.contracts:contracts_group", "Contract versions and change management."),
    "dev": (
        "meshwork.cli.dev:dev_command",
        "Start the Dagster UI and daemon (`dagster dev`) on the local instance with every domain.",
    ),
    "erase": (
        "meshwork.cli.erase:erase_command",
        "Erase a data subject from sources, warehouses, every retained port snapshot and every file under "
        "MESH_HOME (Dagster instance, logs, lineage events, catalog), and certify it place by place.",
    ),
    "generate": (
        "meshwork.cli.generate:generate_command",
        "Generate the example company's operational source files under $MESH_HOME/sources.",
    ),
    "identities": (
        "meshwork.cli.serve:identities_group",
        "Issue, rotate and revoke the credentials domains' runs and people use with the control plane.",
    ),
    "lineage": (
        "meshwork.cli.lineage:lineage_group",
        "OpenLineage: a product's lineage (mesh lineage D/P) and re-sending undelivered events.",
    ),
    "new": ("meshwork.cli.new:new_group", "Create a domain or a data product that passes `mesh check` at once."),
    "notices": (
        "meshwork.cli.notices:notices_group",
        "Notices the governance sensors sent to the owning teams on each channel (outbox, webhook, slack, email).",
    ),
    "onboard": ("meshwork.cli.new:onboard_group", "Bring an existing project into the mesh."),
    "ports": ("meshwork.cli.ports:ports_group", "Inspect output ports and their snapshots."),
    "retention": (
        "meshwork.cli.retention:retention_group",
        "Purge port snapshots older than each product's declared retention.",
    ),
    "serve": (
        "meshwork.cli.serve:serve_command",
        "Run the control plane (enforced mode): grants, vended reads, publish commits, the signed audit log.",
    ),
    "upgrade": (
        "meshwork.cli.upgrade:upgrade_command",
        "Rewrite the mesh's contracts and descriptors into the forms the ODCS and ODPS schemas accept.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when resolved (click's documented lazy-loading pattern)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        target = self.lazy_commands[cmd_name][0]
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from the registry: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        # A stand-in command shortens the registered help exactly as click shortens a real one's.
        rows = [
            (name, click.Command(name, help=self.lazy_commands[name][1]).get_short_help_str(limit)) for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:  # suggest from every command, not the loaded ones
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Meshwork: build, inspect and govern the data mesh defined in this checkout.

    Exit codes: 0 success, 1 a build or check failed, 2 the mesh definition is invalid.
    """


if __name__ == "__main__":
    main()
