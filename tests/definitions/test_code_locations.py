"""Every domain loads as its own code location, with the keys, owners, groups and kinds its descriptors declare."""

from __future__ import annotations

import dagster as dg
import pytest

from meshwork.locations.domain import domain_definitions
from meshwork.model.loader import load_mesh
from tests.conftest import REPO, dagster_cli

DOMAINS = ["sales", "customers", "support", "finance", "marketing"]


@pytest.fixture(scope="module")
def mesh():
    return load_mesh(REPO)


@pytest.fixture(scope="module")
def all_defs() -> dict[str, dg.Definitions]:
    return {d: domain_definitions(d) for d in DOMAINS}


def test_the_whole_workspace_validates_with_dagster():
    result = dagster_cli("definitions", "validate", "-w", "workspace.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    for domain in DOMAINS:
        assert f"Validation successful for code location {domain}" in result.stdout + result.stderr


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_domain_loads_exactly_its_products(domain, mesh, all_defs):
    specs = {s.key: s for s in all_defs[domain].resolve_all_asset_specs()}
    expected = {dg.AssetKey([p.domain, p.name]) for p in mesh.domains[domain].products}
    assert expected <= set(specs)
    local = {k for k, s in specs.items() if s.group_name == domain}
    # Anything else in the location is an internal model of the domain or an upstream placeholder.
    assert all(k.path[0] == domain for k in local)


@pytest.mark.parametrize("domain", DOMAINS)
def test_product_assets_carry_descriptor_owner_group_kinds_tags_and_schema(domain, mesh, all_defs):
    specs = {s.key: s for s in all_defs[domain].resolve_all_asset_specs()}
    for product in mesh.domains[domain].products:
        spec = specs[dg.AssetKey([product.domain, product.name])]
        engine = product.descriptor.implementation.engine
        assert spec.group_name == domain
        assert spec.owners == [f"team:{product.owner.team}", product.owner.email]
        assert {engine, "duckdb", "parquet"} <= set(spec.kinds)
        assert spec.tags["meshwork/domain"] == domain
        assert spec.tags["meshwork/product-kind"] == product.descriptor.product_kind.value
        assert spec.tags["meshwork/visibility"] == product.current_port.visibility.value
        assert spec.description and product.descriptor.description.purpose in spec.description
        schema = spec.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == [c.name for c in product.current_port.contract.columns]
        assert spec.freshness_policy is not None
        assert spec.code_version
        assert {d.asset_key for d in spec.deps} >= {dg.AssetKey(i.product.split("/")) for i in product.inputs}


def test_every_product_has_a_blocking_contract_check(mesh, all_defs):
    for domain, defs in all_defs.items():
        graph = defs.resolve_asset_graph()
        for product in mesh.domains[domain].products:
            key = dg.AssetCheckKey(dg.AssetKey([product.domain, product.name]), "contract")
            assert key in graph.asset_check_keys, f"{product.key} has no contract check"
            assert graph.get_check_spec(key).blocking


def test_cross_domain_consumers_use_eager_automation_and_sources_run_on_schedules(mesh, all_defs):
    specs = {s.key: s for d in all_defs.values() for s in d.resolve_all_asset_specs() if s.group_name}
    # Eager, and held back while an upstream blocking check (the producer's contract) has failed.
    expected = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    assert specs[dg.AssetKey(["finance", "daily_revenue"])].automation_condition == expected
    assert specs[dg.AssetKey(["marketing", "customer_360"])].automation_condition == expected
    assert specs[dg.AssetKey(["sales", "orders"])].automation_condition is None
    schedules = {s.name: s for s in all_defs["sales"].schedules or []}
    assert schedules["sales_ingest"].cron_schedule == "0 * * * *"


def test_the_cross_domain_dbt_source_maps_to_the_producers_asset_key(all_defs):
    specs = {s.key: s for s in all_defs["finance"].resolve_all_asset_specs()}
    deps = {d.asset_key for d in specs[dg.AssetKey(["finance", "daily_revenue"])].deps}
    assert deps == {dg.AssetKey(["sales", "orders"]), dg.AssetKey(["sales", "order_lines"])}


def test_dbt_tests_surface_as_asset_checks_next_to_the_contract_gate(all_defs):
    graph = all_defs["sales"].resolve_asset_graph()
    checks = {k.name for k in graph.get_check_keys_for_assets({dg.AssetKey(["sales", "orders"])})}
    assert {"contract", "unique_orders_order_id"} <= checks
