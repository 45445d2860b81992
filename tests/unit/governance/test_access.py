"""Restricted ports are read only with a valid grant: checked at load and again at read time."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit
from meshwork.core.errors import MeshDefinitionError, PortAccessError
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.ports.reader import PortReader
from meshwork.storage import warehouse

PROFILES = "domains/customers/products/customer_profiles.yaml"


def publish_profiles(mesh) -> None:
    with warehouse.connect("customers") as con:
        con.execute("""CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
            'A' AS first_name, 'B' AS last_name, 'c' || range || '@example.com' AS email, NULL::VARCHAR AS phone,
            DATE '1990-01-01' AS birth_date, NULL::VARCHAR AS street, 'Oslo' AS city, NULL::VARCHAR AS postcode,
            'NO' AS country, TIMESTAMP '2024-01-01' AS created_at FROM range(5)""")
        publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "r1")


def test_a_consumer_without_a_grant_on_a_restricted_port_fails_to_load(project: Path):
    path = project / PROFILES
    path.write_text(
        path.read_text().replace(
            "          - consumer: marketing/customer_360\n", "          - consumer: marketing/customer_segments\n"
        )
    )
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    assert any(
        p.product == "marketing/customer_360"
        and "is restricted and it has no grant" in p.reason
        and "mesh access request" in p.reason
        for p in exc.value.problems
    )


def test_an_expired_grant_fails_to_load(project: Path):
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project, today=date(2028, 1, 1))
    assert any("its grant expired on 2027-12-31" in p.reason for p in exc.value.problems)


def test_the_reader_refuses_a_grant_that_expired_after_load_and_records_the_attempt(project: Path):
    mesh = load_mesh(project, today=date(2027, 6, 1))
    publish_profiles(mesh)
    con = duckdb.connect()
    assert PortReader(mesh, mesh.product("marketing/customer_360"), con).relation(
        "customers/customer_profiles"
    ).aggregate("count(*)").fetchall() == [(5,)]
    later = dataclasses.replace(mesh, today=date(2028, 1, 1))  # the same definitions, read after expiry
    with pytest.raises(PortAccessError, match="restricted and there is no valid grant"):
        PortReader(later, later.product("marketing/customer_360"), con).relation("customers/customer_profiles")
    refused = audit.entries("port.read.refused")
    assert refused[-1]["consumer"] == "marketing/customer_360" and "grant" in refused[-1]["reason"]


def test_a_long_running_process_refuses_a_grant_once_the_real_clock_passes_its_expiry(project: Path):
    # The mesh is loaded while the grant is valid and its `today` is never changed: only the real clock
    # moves, as it does under a code server that stays up for months (the date.today() path).
    import time_machine

    with time_machine.travel(date(2027, 6, 1), tick=False):
        mesh = load_mesh(project)
        publish_profiles(mesh)
    con = duckdb.connect()
    with time_machine.travel(date(2027, 12, 31), tick=False):  # the last valid day
        reader = PortReader(mesh, mesh.product("marketing/customer_360"), con)
        assert reader.relation("customers/customer_profiles").aggregate("count(*)").fetchall() == [(5,)]
    with time_machine.travel(date(2028, 1, 1), tick=False), pytest.raises(PortAccessError, match="no valid grant"):
        PortReader(mesh, mesh.product("marketing/customer_360"), con).relation("customers/customer_profiles")
    assert mesh.today == date(2027, 6, 1)


def test_public_ports_need_no_grant(project: Path):
    mesh = load_mesh(project)
    assert mesh.product("sales/orders").current_port.visibility.value == "public"
    assert mesh.grant("finance/daily_revenue", mesh.product("sales/orders").current_port) is None


def test_the_reader_refuses_a_grant_revoked_after_load_and_records_the_attempt(project: Path):
    from meshwork.governance import access

    path = project / PROFILES
    path.write_text(
        path.read_text().replace(
            "          - consumer: marketing/customer_360\n", "          - consumer: marketing/customer_segments\n"
        )
    )
    ungranted = load_mesh(project, check_grants=False)
    made = access.request(ungranted, "marketing/customer_360", "customers/customer_profiles@v1", "Campaigns")
    access.decide(made.id, "approve", by="crm-data-lead")
    mesh = load_mesh(project)  # loads: the approval counts
    publish_profiles(mesh)
    con = duckdb.connect()
    reader = PortReader(mesh, mesh.product("marketing/customer_360"), con)
    assert reader.relation("customers/customer_profiles").aggregate("count(*)").fetchall() == [(5,)]
    access.decide(made.id, "revoke", by="dpo")
    # The same definitions, still in memory from before the revocation, can no longer read.
    with pytest.raises(PortAccessError, match="restricted and there is no valid grant"):
        PortReader(mesh, mesh.product("marketing/customer_360"), con).relation("customers/customer_profiles")
    assert audit.entries("port.read.refused")[-1]["consumer"] == "marketing/customer_360"
