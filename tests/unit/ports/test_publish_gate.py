"""What publish refuses before it writes anything, and which port versions it writes: an older major
kept beside a new one gets its columns from its mapping, and a major past its removal date is no
longer written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
import time_machine
import yaml

from meshwork.core.errors import ContractViolation, PublishError
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


def publish_profiles(product, n: int = 5, sql: str = PROFILES) -> publish.PublishOutcome:
    with warehouse.connect("customers") as con:
        con.execute(sql.format(n=n))
        return publish.publish(con, product, "customer_profiles", "run-1")


def clear_rows(manifest: snapshots.Manifest, column: str) -> list:
    files = snapshots.sql_file_list(snapshots.snapshot_files(manifest))
    with duckdb.connect() as con:  # not duckdb.sql's default connection: a mutation run forks this process
        return [r[0] for r in con.execute(f'SELECT "{column}" FROM read_parquet({files}) ORDER BY 1').fetchall()]


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


def test_what_a_snapshot_records_the_contract_it_was_checked_against_the_run_and_the_build(project: Path):
    product = load_mesh(project).product("customers/customer_profiles")
    with warehouse.connect("customers") as con:
        con.execute(PROFILES.format(n=3).replace("email_address", "email"))
        warehouse.record_build(con, "customer_profiles", "build-7")
        (manifest,) = publish.publish(con, product, "customer_profiles", "run-1").manifests
    assert manifest.run_id == "run-1" and manifest.built_by_run == "build-7"
    stored = snapshots.published_contract("customers", "customer_profiles", 1)
    assert stored is not None and stored[1] == manifest.snapshot_id
    # The contract travels with the data: its schema, id and version (the store may add where it lives).
    published = yaml.safe_load(stored[0])
    contract = yaml.safe_load(product.current_port.contract.path.read_text(encoding="utf-8"))
    assert {k: published[k] for k in ("id", "version", "schema")} == {
        k: contract[k] for k in ("id", "version", "schema")
    }
    assert manifest.masked, "a port with classified columns gets its masked variant at publish"


def test_a_port_without_classified_columns_gets_no_masked_variant(project: Path):
    product = load_mesh(project).product("sales/orders")
    with warehouse.connect("sales") as con:
        con.execute(
            "CREATE TABLE orders AS SELECT range AS order_id, 1::BIGINT AS customer_id, "
            "TIMESTAMP '2025-01-01' AS order_ts, 'completed' AS status, 'EMEA' AS region, 'EUR' AS currency, "
            "'web' AS channel FROM range(3)"
        )
        customers = "(SELECT 1 AS customer_id)"
        (manifest,) = publish.publish(con, product, "orders", "run-1", lambda key: customers).manifests
    assert manifest.masked is None


def test_data_breaking_both_majors_names_each_failing_port_on_its_own_line(two_majors):
    broken = PROFILES.replace("range::BIGINT AS customer_id", "NULL::BIGINT AS customer_id")
    with pytest.raises(ContractViolation) as raised:
        publish_profiles(two_majors, sql=broken)
    lines = str(raised.value).splitlines()
    assert lines[0] == "customers/customer_profiles was not published: its data breaks its contract"
    heads = [line for line in lines if "FAILED (" in line]
    assert [h.split(":")[0] for h in heads] == ["customers/customer_profiles@v2", "customers/customer_profiles@v1"]
    outcome = raised.value.outcome
    assert isinstance(outcome, publish.PublishOutcome) and not outcome.passed and outcome.manifests == []
    assert {r.rule.id for report in outcome.reports for r in report.failures} >= {"customer_id.not_null"}
    assert snapshots.latest_snapshot("customers", "customer_profiles", 1) is None
    assert snapshots.latest_snapshot("customers", "customer_profiles", 2) is None


def test_a_mapping_that_no_longer_fits_the_table_is_a_contract_violation_naming_the_port(two_majors):
    # The table went back to `email`: v1's mapping {email: email_address} names a column that is gone.
    with pytest.raises(
        ContractViolation,
        match=r"^customers/customer_profiles: cannot shape "
        r"customers/customer_profiles@v1 from the table: .*email_address",
    ):
        publish_profiles(two_majors, sql=PROFILES.replace("email_address", "email"))
    assert snapshots.latest_snapshot("customers", "customer_profiles", 2) is None


def test_a_contract_changed_under_a_running_location_is_refused_with_every_problem_on_its_own_line(project: Path):
    # load_mesh leaves out a product whose contract does not compile; the guard in validate catches a
    # contract object changed after loading (here: two columns given a pattern that is no regex).
    product = load_mesh(project).product("customers/customer_profiles")
    contract = product.current_port.contract
    broken = [c for c in contract.columns if c.name in ("first_name", "city")]
    for column in broken:
        column.prop.logicalTypeOptions = {"pattern": "("}
    with warehouse.connect("customers") as con:
        con.execute(PROFILES.format(n=3).replace("email_address", "email"))
        with pytest.raises(PublishError) as raised:
            publish.validate(con, product, "customer_profiles")
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    for line, column in zip(lines, ("first_name", "city"), strict=True):
        index = [c.name for c in contract.columns].index(column)
        assert line.startswith(f"{contract.path}: field 'schema.0.properties.{index}.logicalTypeOptions.pattern': ")
        assert "product 'customers/customer_profiles': '(' is not a valid regular expression" in line
    assert snapshots.latest_snapshot("customers", "customer_profiles", 1) is None
