"""Snapshots older than a product's retention are purged; the latest one never is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from meshwork.core import audit
from meshwork.governance import retention
from meshwork.locations.domain import build_domain_definitions
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.storage import snapshots, warehouse

TABLE = """CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id, 'A' AS first_name,
    'B' AS last_name, 'c' || range || '@example.com' AS email, NULL::VARCHAR AS phone, DATE '1990-01-01' AS birth_date,
    NULL::VARCHAR AS street, 'Oslo' AS city, NULL::VARCHAR AS postcode, 'NO' AS country,
    TIMESTAMP '2024-01-01' AS created_at FROM range(3)"""


def test_expired_snapshots_are_purged_but_latest_stays(project: Path):
    mesh = load_mesh(project)
    product = mesh.product("customers/customer_profiles")  # retention: 1095d
    with warehouse.connect("customers") as con:
        con.execute(TABLE)
        ids = [publish.publish(con, product, "customer_profiles", f"r{i}").manifests[0].snapshot_id for i in range(3)]
    root = snapshots.version_dir("customers", "customer_profiles", 1)
    assert retention.purge(mesh) == {}  # nothing is older than three years yet
    four_years_on = datetime.now(UTC) + timedelta(days=4 * 365)
    removed = retention.purge(mesh, now=four_years_on)
    assert removed == {"customers/customer_profiles": [f"customers/customer_profiles@v1/{i}" for i in ids[:2]]}
    assert (
        snapshots.snapshots(root) == [ids[2]]
        and snapshots.latest_snapshot("customers", "customer_profiles", 1) == ids[2]
    )
    assert audit.entries("retention.purge")[-1]["product"] == "customers/customer_profiles"


def test_products_without_retention_are_untouched_and_domains_with_it_get_a_daily_job(project: Path):
    mesh = load_mesh(project)
    assert retention.period(mesh.product("sales/orders")) is None
    defs = build_domain_definitions(mesh, "customers")
    schedule = next(s for s in defs.schedules or [] if s.name == "customers_retention_schedule")
    assert schedule.cron_schedule == "0 3 * * *"
    assert not any(
        s.name.endswith("_retention_schedule") for s in build_domain_definitions(mesh, "finance").schedules or []
    )


def test_the_retention_job_runs_in_dagster(project: Path):
    import dagster as dg

    mesh = load_mesh(project)
    with warehouse.connect("customers") as con:
        con.execute(TABLE)
        publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "r0")
    job = build_domain_definitions(mesh, "customers").resolve_job_def("customers_retention")
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
    assert snapshots.latest_snapshot("customers", "customer_profiles", 1)  # latest survives any purge


def test_a_retention_column_must_be_a_date_or_timestamp_of_the_contract(project: Path):
    import pytest

    from meshwork.core.errors import MeshDefinitionError

    descriptor = project / "domains/support/products/tickets.yaml"
    text = descriptor.read_text()
    descriptor.write_text(text.replace("retentionColumn, value: opened_at", "retentionColumn, value: channel"))
    with pytest.raises(
        MeshDefinitionError, match="retentionColumn 'channel' is VARCHAR; it must be a DATE or TIMESTAMP"
    ):
        load_mesh(project)
    text = descriptor.read_text()
    descriptor.write_text(text.replace("retentionColumn, value: channel", "retentionColumn, value: opend_at"))
    with pytest.raises(MeshDefinitionError, match="retentionColumn 'opend_at' is not in the contract"):
        load_mesh(project)
