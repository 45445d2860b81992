"""`mesh new` edits workspace.yaml only after reading it with the limited loader: a bomb is refused, not expanded."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.authoring.changeset import Changeset, ScaffoldError
from meshwork.authoring.registration import register_domain

pytestmark = pytest.mark.timeout(30)


def test_registering_a_domain_in_a_workspace_holding_an_alias_bomb_is_refused(project: Path):
    bomb = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9)
    )
    workspace = project / "workspace.yaml"
    workspace.write_text(bomb + workspace.read_text())
    cs = Changeset(project)
    with pytest.raises(ScaffoldError, match="cannot add this entry to workspace.yaml automatically"):
        register_domain(cs, "billing", "billing-team", "billing@example.com")
    assert not cs.created and not cs.updated
