"""Malformed descriptors and contracts fail at load with the file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.core.errors import MeshDefinitionError
from meshwork.model.loader import load_mesh


def problems_of(project: Path) -> list[str]:
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    return [str(p) for p in exc.value.problems]


def test_the_example_mesh_loads_with_five_domains_and_seven_products(project: Path):
    mesh = load_mesh(project)
    assert sorted(mesh.domains) == ["customers", "finance", "marketing", "sales", "support"]
    assert len(mesh.products) == 7
    assert mesh.domain_order().index("sales") < mesh.domain_order().index("finance")
    assert mesh.domain_order().index("customers") < mesh.domain_order().index("marketing")


def test_a_descriptor_that_is_not_yaml_is_reported_with_its_file(project: Path):
    path = project / "domains/sales/products/orders.yaml"
    path.write_text("apiVersion: v1.0.0\nname: [unclosed\n")
    (problem,) = [p for p in problems_of(project) if "orders.yaml" in p and "YAML" in p]
    assert str(path) in problem


def test_a_descriptor_missing_a_required_field_names_the_field(project: Path):
    path = project / "domains/sales/products/orders.yaml"
    path.write_text(path.read_text().replace("  - {property: productKind, value: source-aligned}\n", ""))
    problems = problems_of(project)
    assert any(
        "orders.yaml" in p and "field 'customProperties[productKind]'" in p and "Field required" in p for p in problems
    ), problems


def test_an_unknown_descriptor_key_is_an_error_not_silently_ignored(project: Path):
    path = project / "domains/sales/products/orders.yaml"
    path.write_text(path.read_text() + "ownr: someone\n")
    assert any("'ownr'" in p and "Extra inputs are not permitted" in p for p in problems_of(project))


def test_an_unsafe_product_name_is_rejected(project: Path):
    path = project / "domains/sales/products/orders.yaml"
    path.write_text(path.read_text().replace("name: orders\n", "name: orders; DROP TABLE x\n"))
    assert any("orders.yaml" in p and "'name'" in p for p in problems_of(project))


def test_a_contract_with_a_wrong_odcs_field_type_names_file_and_field(project: Path):
    path = project / "domains/sales/contracts/orders.odcs.yaml"
    path.write_text(
        path.read_text().replace(
            "primaryKey: true, required: true, unique: true,", "primaryKey: yes-please, required: true,", 1
        )
    )
    problems = problems_of(project)
    assert any("orders.odcs.yaml" in p and "schema.0.properties.0" in p and "sales/orders" in p for p in problems), (
        problems
    )


def test_a_contract_column_without_physical_type_is_rejected(project: Path):
    path = project / "domains/support/contracts/tickets.odcs.yaml"
    path.write_text(path.read_text().replace("physicalType: VARCHAR, primaryKey: true", "primaryKey: true", 1))
    assert any("tickets.odcs.yaml" in p and "physicalType" in p for p in problems_of(project))


def test_a_contract_type_with_sql_in_it_is_rejected(project: Path):
    path = project / "domains/support/contracts/tickets.odcs.yaml"
    path.write_text(path.read_text().replace("physicalType: BIGINT", 'physicalType: "BIGINT); DROP TABLE t; --"', 1))
    assert any("tickets.odcs.yaml" in p and "physicalType" in p for p in problems_of(project))


def test_a_contract_whose_version_is_not_semver_is_rejected(project: Path):
    path = project / "domains/support/contracts/tickets.odcs.yaml"
    path.write_text(path.read_text().replace("version: 1.0.0", "version: one"))
    assert any("tickets.odcs.yaml" in p and "'version'" in p for p in problems_of(project))


def test_a_missing_contract_file_is_reported_against_the_descriptor_port(project: Path):
    (project / "domains/support/contracts/tickets.odcs.yaml").unlink()
    assert any(
        "tickets.yaml: field 'outputPorts.0.contractId': product 'support/tickets': no contract in " in p
        and "has id 'support.tickets' and a version 1.x.y" in p
        for p in problems_of(project)
    ), problems_of(project)
