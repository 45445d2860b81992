"""Owners in Dagster's own forms: `team:<name>` or an e-mail address, in domain.yaml and `mesh new domain`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from meshwork.model.descriptors import Owner, owner_parts


@pytest.mark.parametrize(
    ("written", "team", "email"),
    [
        ("logistics", "logistics", None),
        ("team:logistics", "logistics", None),
        ("Ops.Team@example.org", "ops-team", "Ops.Team@example.org"),
        ({"team": "team:crm-data", "email": "crm@example.com"}, "crm-data", "crm@example.com"),
        ({"team": "crm-data"}, "crm-data", None),
    ],
)
def test_every_owner_form_names_a_team(written, team, email):
    owner = Owner.model_validate(written)
    assert (owner.team, owner.email) == (team, email)
    assert owner.dagster_owners == [f"team:{team}", *([email] if email else [])]


@pytest.mark.parametrize("bad", ["team:Not A Team", "", {"team": "team:"}])
def test_an_owner_that_names_no_valid_team_is_refused(bad):
    with pytest.raises(ValidationError):
        Owner.model_validate(bad)


def test_owner_parts_of_the_cli_forms():
    assert owner_parts("team:logistics") == ("logistics", None)
    assert owner_parts("9ops@example.org") == ("team-9ops", "9ops@example.org")
