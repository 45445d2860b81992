"""The `mesh` command is a lazy group: its registry must stay true to the command modules it names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from meshwork.cli import COMMANDS, main

MESH = Path(sys.executable).parent / "mesh"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_registered_command_loads_under_its_name_with_the_help_the_registry_shows(name: str):
    command = main.get_command(click.Context(main), name)
    assert isinstance(command, click.Command) and command.name == name
    registered = click.Command(name, help=COMMANDS[name][1])
    assert registered.get_short_help_str(200) == command.get_short_help_str(200)


def test_mesh_help_lists_every_command_without_importing_dagster_or_a_command_module():
    probe = (
        "import sys; from click.testing import CliRunner; from meshwork.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in sys.modules if m.startswith(('dagster', 'meshwork.cli.'))))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_an_unknown_command_suggests_the_nearest_one_and_exits_2():
    proc = subprocess.run([str(MESH), "chec"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Did you mean 'check'?" in proc.stderr
