"""The access-request flow: request, approve, deny, revoke, expiry; forged grants are ignored."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from meshwork.core import audit
from meshwork.core.errors import MeshDefinitionError
from meshwork.model import grants
from meshwork.model.loader import load_mesh
from tests.conftest import mesh_cli

pytestmark = pytest.mark.slow

PROFILES = "domains/customers/products/customer_profiles.yaml"
PORT = "customers/customer_profiles@v1"
CONSUMER = "marketing/customer_360"


@pytest.fixture
def ungranted(project: Path) -> Path:
    """The example without marketing's descriptor grant on the customer profiles."""
    path = project / PROFILES
    path.write_text(
        path.read_text().replace(
            "          - consumer: marketing/customer_360\n", "          - consumer: marketing/customer_segments\n"
        )
    )
    return project


def cli(project: Path, *args: str):
    env = {**os.environ, "MESH_PROJECT_DIR": str(project)}
    return mesh_cli(*args, cwd=project, env=env)


def loads(project: Path) -> bool:
    try:
        load_mesh(project)
        return True
    except MeshDefinitionError:
        return False


def test_request_approve_revoke_changes_what_loads_and_every_step_is_audited(ungranted: Path):
    assert not loads(ungranted)
    made = cli(ungranted, "access", "request", CONSUMER, PORT, "--reason", "Campaigns", "--pii", "--json")
    assert made.returncode == 0, made.stderr
    request_id = json.loads(made.stdout)["id"]
    assert not loads(ungranted)  # pending is not granted
    assert cli(ungranted, "access", "approve", request_id, "--by", "crm-data-lead").returncode == 0
    assert loads(ungranted)
    mesh = load_mesh(ungranted)
    grant = mesh.grant(CONSUMER, mesh.product("customers/customer_profiles").current_port)
    assert grant is not None and grant.pii
    assert cli(ungranted, "access", "revoke", request_id, "--by", "dpo").returncode == 0
    assert not loads(ungranted)
    actions = [e["action"] for e in audit.entries("access")]
    assert actions == ["access.request", "access.approve", "access.revoke"]
    assert audit.verify() == []


def test_a_denied_request_grants_nothing(ungranted: Path):
    request_id = json.loads(cli(ungranted, "access", "request", CONSUMER, PORT, "--reason", "x", "--json").stdout)["id"]
    assert cli(ungranted, "access", "deny", request_id, "--by", "crm-data-lead").returncode == 0
    assert not loads(ungranted)
    again = cli(ungranted, "access", "approve", request_id, "--by", "someone")
    assert again.returncode == 2 and "is denied; only a pending request can be approved" in again.stderr


def test_an_expired_approval_no_longer_counts(ungranted: Path):
    from datetime import date

    request_id = json.loads(cli(ungranted, "access", "request", CONSUMER, PORT, "--reason", "x", "--json").stdout)["id"]
    cli(ungranted, "access", "approve", request_id, "--by", "lead", "--expires", "2030-01-31")
    assert load_mesh(ungranted, today=date(2030, 1, 31))
    with pytest.raises(MeshDefinitionError, match="its grant expired on 2030-01-31"):
        load_mesh(ungranted, today=date(2030, 2, 1))


def test_a_grant_typed_into_the_store_is_forged_ignored_and_flagged(ungranted: Path):
    store = grants.store_path()
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(
        json.dumps(
            [
                {
                    "id": "f00",
                    "consumer": CONSUMER,
                    "port": PORT,
                    "reason": "trust me",
                    "pii": True,
                    "expires": None,
                    "status": "approved",
                    "requested_at": "2026-01-01",
                    "decided_by": "nobody",
                    "decided_at": "2026-01-01",
                    "approval_hash": "0" * 64,
                }
            ]
        )
    )
    assert not loads(ungranted)
    listed = cli(ungranted, "access", "list")
    assert "FORGED" in listed.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["marketing/nope", PORT], "unknown consumer product 'marketing/nope'"),
        ([CONSUMER, "customers/customer_profiles@v7"], "unknown port"),
        (["finance/daily_revenue", "sales/orders@v1"], "is public: no grant is needed"),
        (["marketing/customer_segments", "marketing/customer_360@v1"], "in the producing domain"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(args, message, ungranted: Path):
    result = cli(ungranted, "access", "request", *args, "--reason", "x")
    assert result.returncode == 2 and message in result.stderr
    assert grants.load() == [] and audit.entries("access") == []


def test_a_duplicate_request_is_refused(ungranted: Path):
    assert cli(ungranted, "access", "request", CONSUMER, PORT, "--reason", "x").returncode == 0
    again = cli(ungranted, "access", "request", CONSUMER, PORT, "--reason", "x")
    assert again.returncode == 2 and "already has a pending or approved request" in again.stderr
    assert len(grants.load()) == 1
