"""Onboarded columns that break the mesh's naming policy get a conforming contract name, renamed at the port."""

from __future__ import annotations

import pytest
import yaml

from meshwork.authoring import onboard_models, templates
from meshwork.authoring.changeset import ScaffoldError
from meshwork.authoring.templates import ColumnDraft
from meshwork.model.descriptors import OutputPort, ProductKind


def col(name: str, physical: str) -> ColumnDraft:
    return ColumnDraft(name=name, physical_type=physical, logical_type=templates.logical_type(physical))


def test_columns_breaking_the_naming_policy_get_a_conforming_name_and_the_rest_keep_theirs():
    columns = [
        col("customer_id", "BIGINT"),
        col("first_order", "DATE"),
        col("opened_date", "TIMESTAMP"),
        col("opened_at", "TIMESTAMP WITH TIME ZONE"),
        col("active", "BOOLEAN"),
        col("order_date", "DATE"),
        col("is_paid", "BOOLEAN"),
    ]
    contract, renamed = onboard_models.conform("customers", columns)
    assert [c.name for c in contract] == [
        "customer_id",
        "first_order_date",
        "opened_date_at",
        "opened_at",
        "is_active",
        "order_date",
        "is_paid",
    ]
    assert [c.physical_type for c in contract] == [c.physical_type for c in columns]
    assert {(r.column, r.name) for r in renamed} == {
        ("first_order", "first_order_date"),
        ("opened_date", "opened_date_at"),
        ("active", "is_active"),
    }
    assert renamed[0].why == "DATE column: the naming policy says date columns end in _date or _on"


def test_a_conforming_name_never_takes_an_existing_column_and_is_refused_when_both_are_taken():
    contract, _ = onboard_models.conform("m", [col("shipped", "DATE"), col("shipped_date", "VARCHAR")])
    assert [c.name for c in contract] == ["shipped_on", "shipped_date"]
    with pytest.raises(ScaffoldError, match=r"column 'shipped' \(DATE\) of model 'm' breaks the naming policy"):
        onboard_models.conform("m", [col("shipped", "DATE"), col("shipped_date", "INT"), col("shipped_on", "INT")])


def test_the_descriptor_gets_the_port_mapping_that_publishes_each_contract_column_from_the_model():
    _, renamed = onboard_models.conform("m", [col("id", "BIGINT"), col("first_order", "DATE")])
    drafted = templates.descriptor("d", "m", ProductKind.AGGREGATE, "dbt", None, "p" * 30, [], "26h", [])
    port = yaml.safe_load(onboard_models.with_port_columns(drafted, renamed))["outputPorts"][0]
    mapping = next(p["value"] for p in port["customProperties"] if p["property"] == "columns")
    assert mapping == {"first_order_date": "first_order"}
    spec = OutputPort(name="m", version="v1", contractId="d.m", columns=mapping)
    assert spec.renamed == {"first_order_date": "first_order"}
    assert onboard_models.with_port_columns(drafted, []) == drafted


def test_only_a_bare_column_counts_as_a_rename_at_the_port():
    spec = OutputPort(name="m", version="v1", contractId="d.m", columns={"a_date": "CAST(a AS DATE)", "b_on": '"b"'})
    assert spec.renamed == {"b_on": "b"}
