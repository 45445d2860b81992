"""What publish refuses before it writes anything, and which port versions it writes: an older major
kept beside a new one gets its columns from its mapping, and a major past its removal date is no
longer written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
import time_machine

from meshwork.core.errors import PublishError
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.storage import snapshots, warehouse
from tests.integration.test_contract_versions import introduce_v2

PROFILES = """CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
    'Ada' AS first_name, 'Lovelace' AS last_name, 'ada' || range || '@example.com' AS email_address,
    '+44 1' AS phone, DATE '1815-12-10' AS birth_date, '12 St James''s Square' AS street, 'London' AS city,
    'SW1Y4' AS postcode, 'GB' AS country, TIMESTAMP '2024-01-01' AS created_at FROM range({n})"""


@pytest.fixture
def two_majors(project: Path):
    """customers/customer_profiles 2.0.0 renames email to email_address; v1 stays, mapped, removed after 2099-01-01."""
    introduce_v2(project)
    return load_mesh(project).product("customers/customer_profiles")


def publish_profiles(product, n: int = 5) -> publish.PublishOutcome:
    with warehouse.connect("customers") as con:
        con.execute(PROFILES.format(n=n))
        return publish.publish(con, product, "customer_profiles", "run-1")


def clear_rows(manifest: snapshots.Manifest, column: str) -> list:
    files = snapshots.sql_file_list(snapshots.snapshot_files(manifest))
    return [r[0] for r in duckdb.sql(f'SELECT "{column}" FROM read_parquet({files}) ORDER BY 1').fetchall()]


def test_an_older_major_is_published_with_its_columns_computed_from_the_mapping(two_majors):
    outcome = publish_profiles(two_majors)
    by_version = {m.version: m for m in outcome.manifests}
    assert sorted(by_version) == ["v1", "v2"]
    emails = [f"ada{i}@example.com" for i in range(5)]
    assert clear_rows(by_version["v2"], "email_address") == emails
    # v1 still says `email`, computed from the table's email_address by its `columns` mapping.
    assert clear_rows(by_version["v1"], "email") == emails
    assert "email_address" not in [c.name for c in by_version["v1"].columns]


def test_a_major_past_its_removal_date_is_no_longer_published(two_majors):
    assert [p.major for p in publish.live_ports(two_majors)] == [2, 1]
    assert [p.major for p in publish.live_ports(two_majors, date(2099, 1, 1))] == [2, 1]  # its last day
    assert [p.major for p in publish.live_ports(two_majors, date(2099, 1, 2))] == [2]
    first = publish_profiles(two_majors)
    with time_machine.travel(date(2099, 1, 2), tick=False):  # the real clock: a location running for years
        later = publish_profiles(two_majors, n=6)
    assert [m.version for m in later.manifests] == ["v2"]
    v1 = next(m for m in first.manifests if m.version == "v1")
    assert snapshots.latest_snapshot("customers", "customer_profiles", 1) == v1.snapshot_id  # left as it was


def test_a_table_missing_from_the_warehouse_is_refused_by_name_and_nothing_is_published(project: Path):
    product = load_mesh(project).product("sales/orders")
    with (
        warehouse.connect("sales") as con,
        pytest.raises(PublishError, match=r'^sales/orders: the warehouse has no table "orders" to publish$'),
    ):
        publish.publish(con, product, "orders", "run-1")
    assert snapshots.latest_snapshot("sales", "orders", 1) is None
