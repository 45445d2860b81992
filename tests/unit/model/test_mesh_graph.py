"""Graph-level errors: unknown inputs, duplicate keys, cycles, unregistered or missing domains."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.core.errors import MeshDefinitionError
from meshwork.model.loader import load_mesh


def problems_of(project: Path) -> list[str]:
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    return [str(p) for p in exc.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_an_input_port_naming_an_unknown_product_fails(project: Path):
    edit(
        project / "domains/finance/products/daily_revenue.yaml",
        "{name: orders, version: v1, contractId: sales.orders}",
        "{name: ordres, version: v1, contractId: sales.ordres}",
    )
    problems = problems_of(project)
    assert any(
        "daily_revenue.yaml" in p and "inputPorts.0" in p and "unknown product 'sales/ordres'" in p for p in problems
    ), problems


def test_an_input_port_naming_an_unknown_major_version_fails(project: Path):
    edit(
        project / "domains/finance/products/daily_revenue.yaml",
        "{name: orders, version: v1, contractId: sales.orders}",
        "{name: orders, version: v3, contractId: sales.orders}",
    )
    assert any("has no output port v3" in p and "finance/daily_revenue" in p for p in problems_of(project))


def test_two_products_with_the_same_key_fail(project: Path):
    src = project / "domains/sales/products/orders.yaml"
    (project / "domains/sales/products/orders_copy.yaml").write_text(src.read_text())
    assert any("duplicate product key 'sales/orders'" in p and "orders_copy.yaml" in p for p in problems_of(project))


def test_a_dependency_cycle_across_domains_fails_and_shows_the_cycle(project: Path):
    # sales starts reading finance, which reads sales.
    edit(
        project / "domains/sales/products/orders.yaml",
        "  - {name: customer_profiles, version: v1, contractId: customers.customer_profiles}",
        "  - {name: customer_profiles, version: v1, contractId: customers.customer_profiles}\n"
        "  - {name: daily_revenue, version: v1, contractId: finance.daily_revenue}",
    )
    problems = problems_of(project)
    assert any("dependency cycle across domains" in p and "finance" in p and "sales" in p for p in problems), problems


def test_a_domain_in_the_workspace_that_does_not_exist_fails(project: Path):
    edit(
        project / "workspace.yaml",
        "load_from:\n",
        "load_from:\n  - python_module: {module_name: domains.logistics.definitions, location_name: logistics}\n",
    )
    assert any("workspace.yaml" in p and "domain 'logistics' is registered but" in p for p in problems_of(project))


def test_a_domain_folder_missing_from_the_workspace_fails(project: Path):
    edit(
        project / "workspace.yaml",
        "  - python_module:\n      module_name: domains.support.definitions\n      location_name: support\n",
        "",
    )
    assert any("'support' is not registered in workspace.yaml" in p for p in problems_of(project))


def test_a_private_port_cannot_be_an_input_of_another_domain(project: Path):
    edit(
        project / "domains/sales/products/orders.yaml",
        "{property: visibility, value: public}",
        "{property: visibility, value: private}",
    )
    assert any("private to domain 'sales'" in p for p in problems_of(project))


def test_a_key_written_twice_in_a_descriptor_is_an_error_not_last_one_wins(project: Path):
    path = project / "domains/sales/products/orders.yaml"
    path.write_text(path.read_text() + "status: retired\n")
    assert any("orders.yaml" in p and "duplicate key 'status'" in p for p in problems_of(project))


def test_a_foreign_key_onto_a_missing_sibling_product_fails(project: Path):
    edit(
        project / "domains/sales/contracts/order_lines.odcs.yaml",
        "orders.odcs.yaml#/schema/orders/properties/order_id",
        "ordrs.odcs.yaml#/schema/ordrs/properties/order_id",
    )
    assert any(
        "order_lines" in p and "sales/ordrs" in p and "not another product of domain 'sales'" in p
        for p in problems_of(project)
    ), problems_of(project)


def test_a_foreign_key_onto_another_domain_needs_a_declared_input_port(project: Path):
    edit(
        project / "domains/sales/contracts/order_lines.odcs.yaml",
        '"orders.odcs.yaml#/schema/orders/properties/order_id"',
        '"../../support/contracts/tickets.odcs.yaml#/schema/tickets/properties/ticket_id"',
    )
    assert any("support/tickets, which is not a declared input port" in p for p in problems_of(project))
