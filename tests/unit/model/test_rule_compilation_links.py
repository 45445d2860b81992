"""The rules a contract implies beyond its columns' own values: foreign keys to another product, the PII
scan of public and internal text, and freshness from the SLA. Each compiles to what it names (the product,
the column, the window in seconds), and each applies only where the contract says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.model.classification import PII_PATTERN
from meshwork.model.rules import compile_rules, foreign_key_target
from tests.unit.model.test_rule_compilation import load, rules_of, shape

FK = "../../customers/contracts/customer_profiles.odcs.yaml#/schema/customer_profiles/properties/customer_id"


@pytest.mark.parametrize(
    "to, target",
    [
        (FK, ("customers/customer_profiles", "customer_id")),
        # Without a folder: a sibling contract of the same domain as the product that declares it.
        ("orders.odcs.yaml#/schema/orders/properties/order_id", ("sales/orders", "order_id")),
        ("orders.odcs.yaml#/schema/orders/properties/Order_Id2", ("sales/orders", "Order_Id2")),
    ],
)
def test_a_fully_qualified_reference_names_its_product_and_column(to, target):
    assert foreign_key_target(to, "sales/order_lines") == target


@pytest.mark.parametrize(
    "to",
    [
        "customer_profiles.customer_id",  # the older <product>.<column> form
        "customers.customer_profiles.customer_id",
        "orders.odcs.yaml#/schema/invoices/properties/order_id",  # the file and the schema name disagree
        "orders.odcs.yaml#/schema/orders/properties/order_id\n",  # nothing may follow the column
        "x" + FK,
        "../customers/contracts/customer_profiles.odcs.yaml#/schema/customer_profiles/properties/customer_id",
        "../../Customers/contracts/customer_profiles.odcs.yaml#/schema/customer_profiles/properties/customer_id",
        "orders.odcs.yaml#/schema/orders/properties/1st",
        "orders.odcs.yaml#/schema/orders/properties/",
        None,
        42,
    ],
)
def test_anything_else_is_not_a_reference_meshwork_reads(to):
    assert foreign_key_target(to, "sales/order_lines") is None


def test_a_foreign_key_compiles_to_a_rule_naming_the_referenced_product_and_column(tmp_path: Path):
    rules = rules_of(
        load(
            tmp_path,
            f"""
            - name: customer_id
              physicalType: BIGINT
              logicalType: integer
              relationships: [{{to: "{FK}"}}]
            - name: order_id
              physicalType: BIGINT
              logicalType: integer
              relationships: [{{type: foreignKey, to: "orders.odcs.yaml#/schema/orders/properties/id"}}]
            """,
        )
    )
    assert shape(rules["customer_id.foreign_key"]) == (
        "foreign_key",
        "every 'customer_id' exists in customers/customer_profiles.customer_id",
        "error",
        ("customer_id",),
        {"product": "customers/customer_profiles", "column": "customer_id"},
    )
    assert rules["order_id.foreign_key"].params == {"product": "sales/orders", "column": "id"}


@pytest.mark.parametrize(
    "classification, physical_type, scanned",
    [
        ("public", "VARCHAR", True),
        ("internal", "VARCHAR", True),
        ("Public", "VARCHAR(20)", True),
        ("INTERNAL", "TEXT", True),
        ("public", "STRING", True),
        ("public", "varchar", True),
        ("confidential", "VARCHAR", False),
        ("restricted", "VARCHAR", False),
        (None, "VARCHAR", False),
        ("public", "BIGINT", False),
        ("public", "VARCHAR[]", True),
        ("public", "DATE", False),
    ],
)
def test_public_and_internal_text_is_scanned_for_pii(tmp_path: Path, classification, physical_type, scanned):
    classified = f", classification: {classification}" if classification else ""
    logical = "integer" if physical_type == "BIGINT" else "date" if physical_type == "DATE" else "string"
    if physical_type.endswith("[]"):
        logical = "array"
    item = f"- {{name: note, physicalType: '{physical_type}', logicalType: {logical}{classified}}}"
    if logical == "array":
        item = item[:-1] + ", items: {logicalType: string}}"
    rules = rules_of(load(tmp_path, item))
    assert ("note.no_pii" in rules) is scanned
    if scanned:
        assert shape(rules["note.no_pii"]) == (
            "no_pii",
            f"'note' ({classification}) holds no e-mail address or phone number",
            "error",
            ("note",),
            {"pattern": PII_PATTERN},
        )


@pytest.mark.parametrize(
    "custom, scanned",
    [
        ("[{property: piiScan, value: false}]", False),
        ("[{property: piiScan, value: 'False'}]", False),
        ("[{property: piiScan, value: true}]", True),
        ("[{property: owner, value: false}]", True),
        ("[{property: owner, value: x}, {property: piiScan, value: false}]", False),
    ],
)
def test_only_pii_scan_false_opts_a_column_out_of_the_scan(tmp_path: Path, custom, scanned):
    item = "- {name: note, physicalType: VARCHAR, logicalType: string, classification: public, customProperties: C}"
    item = item.replace("C}", f"{custom}}}")
    assert ("note.no_pii" in rules_of(load(tmp_path, item))) is scanned


SLA = "slaProperties:\n  - {{property: freshness, value: {value}, unit: {unit}, element: {element}}}\n"


@pytest.mark.parametrize(
    "value, unit, seconds",
    [
        (90, "m", 5400.0),
        (5, "min", 300.0),
        (2, "h", 7200.0),
        (2, "H", 7200.0),
        (1.5, "d", 129600.0),
        (3, "D", 259200.0),
    ],
)
def test_freshness_compiles_to_its_window_in_seconds(tmp_path: Path, value, unit, seconds):
    contract = load(
        tmp_path,
        "- {name: updated_at, physicalType: TIMESTAMP, logicalType: timestamp}",
        tail=SLA.format(value=value, unit=unit, element="t.updated_at"),
    )
    assert shape(rules_of(contract)["updated_at.freshness"]) == (
        "freshness",
        f"the newest 'updated_at' is at most {value}{unit} old",
        "error",
        ("updated_at",),
        {"max_age_seconds": seconds},
    )


def test_freshness_may_name_its_column_without_the_table_and_other_sla_properties_are_not_rules(tmp_path: Path):
    contract = load(
        tmp_path,
        "- {name: updated_at, physicalType: TIMESTAMP, logicalType: timestamp}",
        tail="slaProperties:\n  - {property: latency, value: 4, unit: d, element: t.updated_at}\n"
        "  - {property: freshness, value: 1, unit: d, element: updated_at}\n",
    )
    assert {r.id: r.kind for r in compile_rules(contract, "sales/t")[0]} == {"updated_at.freshness": "freshness"}
