"""Declarative automation, evaluated on an ephemeral instance over the real sales + finance graph."""

from __future__ import annotations

import dagster as dg
import pytest

from meshwork.locations.domain import domain_definitions

ORDERS = dg.AssetKey(["sales", "orders"])
LINES = dg.AssetKey(["sales", "order_lines"])
REVENUE = dg.AssetKey(["finance", "daily_revenue"])


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    # Two code locations seen as one graph, as the daemon sees the workspace.
    sales, finance = domain_definitions("sales"), domain_definitions("finance")
    return dg.Definitions(
        assets=[*(sales.assets or []), *(finance.assets or [])],
        asset_checks=[*(sales.asset_checks or []), *(finance.asset_checks or [])],
        resources=sales.resources,
    )


def publish(defs: dg.Definitions, instance: dg.DagsterInstance, key: dg.AssetKey, passed: bool = True) -> None:
    """A materialization plus its checks: the contract gate with ``passed``, the dbt tests passing."""
    instance.report_runless_asset_event(dg.AssetMaterialization(key))
    for check in defs.resolve_asset_graph().get_check_keys_for_assets({key}):
        ok = passed if check.name == "contract" else True
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(asset_key=key, check_name=check.name, passed=ok))


def test_a_downstream_product_refreshes_after_its_upstream_ports_are_republished(defs):
    with dg.instance_for_test() as instance:
        start = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # the daemon's first tick
        publish(defs, instance, ORDERS)
        publish(defs, instance, LINES)
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor)
        assert first.get_num_requested(REVENUE) == 1
        instance.report_runless_asset_event(dg.AssetMaterialization(REVENUE))
        settled = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert settled.get_num_requested(REVENUE) == 0
        publish(defs, instance, ORDERS)
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=settled.cursor)
        assert again.get_num_requested(REVENUE) == 1


def test_a_failed_upstream_contract_check_holds_the_downstream_product_back(defs):
    with dg.instance_for_test() as instance:
        start = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        publish(defs, instance, ORDERS, passed=False)
        publish(defs, instance, LINES)
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor)
        assert result.get_num_requested(REVENUE) == 0
        # Once the producer fixes its data and the contract passes, the consumer refreshes.
        publish(defs, instance, ORDERS, passed=True)
        fixed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
        assert fixed.get_num_requested(REVENUE) == 1


def test_source_aligned_products_are_not_driven_by_automation_conditions(defs):
    with dg.instance_for_test() as instance:
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert result.get_num_requested(ORDERS) == 0
