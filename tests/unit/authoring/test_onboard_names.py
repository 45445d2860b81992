"""A model renamed on onboarding (its name is another domain's) is renamed everywhere the project names it,
and a reference left pointing at another domain's model is caught."""

from __future__ import annotations

import yaml

from meshwork.authoring.onboard_names import Renames, leaks

RENAMES = Renames(
    {"orders": "shipping_orders", "stg": "stg"}, {"shop": "shipping_shop"}, {"orders_doc": "shipping_orders_doc"}
)

PROJECT_YAML = """
models:
  - name: orders
    description: '{{ doc("orders_doc") }}'
    columns:
      - name: customer_id
        data_tests:
          - relationships: {to: "ref('orders')", field: id}
unit_tests:
  - name: t1
    model: orders
    given:
      - input: ref('orders')
        rows: [{id: 1}]
semantic_models:
  - name: orders_sm
    model: ref('orders')
metrics:
  - name: order_count
    type: simple
    type_params: {measure: n}
    filter: "{{ Dimension('orders_sm__status') }} = 'x'"
exposures:
  - name: dash
    type: dashboard
    owner: {name: a}
    depends_on: ["ref('orders')", "source('shop', 'raw')"]
sources:
  - name: shop
    tables: [{name: raw}]
"""


def test_every_reference_to_a_renamed_model_in_yaml_is_renamed():
    out = RENAMES.yaml(yaml.safe_load(PROJECT_YAML))
    assert out["models"][0]["name"] == "shipping_orders"
    assert out["models"][0]["description"] == '{{ doc("shipping_orders_doc") }}'
    assert out["models"][0]["columns"][0]["data_tests"][0]["relationships"]["to"] == "ref('shipping_orders')"
    assert out["unit_tests"][0]["model"] == "shipping_orders"
    assert out["unit_tests"][0]["given"][0]["input"] == "ref('shipping_orders')"
    assert out["semantic_models"][0]["model"] == "ref('shipping_orders')"
    assert out["exposures"][0]["depends_on"] == ["ref('shipping_orders')", "source('shipping_shop', 'raw')"]
    assert out["sources"][0]["name"] == "shipping_shop"
    # What is not a model's name stays: a metric names a semantic model's dimension, not a model.
    assert out["metrics"] == yaml.safe_load(PROJECT_YAML)["metrics"]
    assert "'orders'" not in yaml.safe_dump(out)


def test_sql_and_docs_blocks_follow_the_renames_and_leave_other_names_alone():
    sql = "select * from {{ ref('orders') }} join {{ ref('stg') }} join {{ ref('orders_archive') }}"
    assert RENAMES.text(
        sql
    ) == "select * from ref('shipping_orders') join {{ ref('stg') }} join {{ ref('orders_archive') }}".replace(
        "ref('shipping_orders')", "{{ ref('shipping_orders') }}"
    )
    assert (
        RENAMES.text("{% docs orders_doc %}Orders{% enddocs %}") == "{% docs shipping_orders_doc %}Orders{% enddocs %}"
    )
    assert RENAMES.text("{% docs other %}x{% enddocs %}") == "{% docs other %}x{% enddocs %}"


def _node(uid: str, kind: str, path: str, group: str, parents: list[str]) -> tuple[str, dict]:
    name = uid.split(".")[-1]
    return uid, {
        "resource_type": kind,
        "name": name,
        "original_file_path": path,
        "group": group,
        "depends_on": {"nodes": parents},
    }


def test_an_onboarded_test_pointing_at_another_domains_model_is_a_problem_naming_both():
    manifest = {
        "nodes": dict(
            [
                _node("model.meshwork.orders", "model", "models/sales/marts/orders.sql", "sales", []),
                _node("model.meshwork.shipping_orders", "model", "models/shipping/orders.sql", "shipping", []),
                _node("test.meshwork.rel", "test", "models/shipping/schema.yml", "shipping", ["model.meshwork.orders"]),
            ]
        ),
        "unit_tests": dict(
            [
                _node(
                    "unit_test.meshwork.orders.t1",
                    "unit_test",
                    "models/shipping/schema.yml",
                    "",
                    ["model.meshwork.orders"],
                )
            ]
        ),
    }
    found = leaks(manifest, "shipping", ("models/shipping/",))
    assert len(found) == 2
    assert "onboarded test 'rel' (models/shipping/schema.yml) refers to 'orders' of domain 'sales'" in found[0]
    assert "onboarded unit_test 't1'" in found[1]


def test_references_inside_the_onboarded_domain_are_fine():
    manifest = {
        "nodes": dict(
            [
                _node("model.meshwork.shipping_orders", "model", "models/shipping/orders.sql", "shipping", []),
                _node(
                    "test.meshwork.rel",
                    "test",
                    "models/shipping/schema.yml",
                    "shipping",
                    ["model.meshwork.shipping_orders"],
                ),
                # Another domain's own tests on its own models are not the onboarding's business.
                _node("model.meshwork.orders", "model", "models/sales/marts/orders.sql", "sales", []),
                _node("test.meshwork.t", "test", "models/sales/marts/orders.yml", "sales", ["model.meshwork.orders"]),
            ]
        )
    }
    assert leaks(manifest, "shipping", ("models/shipping/",)) == []
