"""Column lineage of dbt models, from compiled SQL parsed by sqlglot (through staging models)."""

from __future__ import annotations

from meshwork.lineage.column_lineage import DbtColumnLineage, InputColumn, Relation

ORDERS = Relation("port", "sales/orders/v1")
LINES = Relation("port", "sales/order_lines/v1")
SHOP = Relation("source", "shop/orders")

# A compiled manifest in miniature: dbt has already replaced ref() and source() by relation names.
MANIFEST = {
    "sources": {
        "source.meshwork.port_sales.orders_v1": {
            "source_name": "port_sales",
            "name": "orders_v1",
            "relation_name": '"warehouse"."port_sales"."orders_v1"',
        },
        "source.meshwork.port_sales.order_lines_v1": {
            "source_name": "port_sales",
            "name": "order_lines_v1",
            "relation_name": '"warehouse"."port_sales"."order_lines_v1"',
        },
        "source.meshwork.shop.orders": {
            "source_name": "shop",
            "name": "orders",
            "relation_name": "read_parquet('/mesh/sources/shop/orders/*.parquet')",
        },
    },
    "nodes": {
        "model.meshwork.stg_orders": {
            "resource_type": "model",
            "name": "stg_orders",
            "relation_name": '"warehouse"."main"."stg_orders"',
            "depends_on": {"nodes": ["source.meshwork.shop.orders"]},
            "compiled_code": """
                with source as (select * from read_parquet('/mesh/sources/shop/orders/*.parquet'))
                select cast(order_id as bigint) as order_id, lower(status) as status from source""",
        },
        "model.meshwork.orders": {
            "resource_type": "model",
            "name": "orders",
            "relation_name": '"warehouse"."main"."orders"',
            "columns": {"order_id": {}, "status": {}},
            "depends_on": {"nodes": ["model.meshwork.stg_orders"]},
            "compiled_code": 'with staged as (select * from "warehouse"."main"."stg_orders") select * from staged',
        },
        "model.meshwork.revenue": {
            "resource_type": "model",
            "name": "revenue",
            "relation_name": '"warehouse"."main"."revenue"',
            "depends_on": {
                "nodes": ["source.meshwork.port_sales.orders_v1", "source.meshwork.port_sales.order_lines_v1"]
            },
            "compiled_code": """
                with o as (select * from "warehouse"."port_sales"."orders_v1"),
                l as (select * from "warehouse"."port_sales"."order_lines_v1")
                select
                    cast(o.order_ts as date) as revenue_date,
                    region,
                    count(*) as orders,
                    sum(case when status = 'completed' then line_amount else 0 end) as net_revenue
                from o join l using (order_id)
                group by 1, 2""",
        },
    },
}

MANIFEST["nodes"]["model.meshwork.clauses"] = {
    "resource_type": "model",
    "name": "clauses",
    "relation_name": '"warehouse"."main"."clauses"',
    "depends_on": {"nodes": ["source.meshwork.port_sales.orders_v1", "source.meshwork.port_sales.order_lines_v1"]},
    "compiled_code": """
        with o as (select * from "warehouse"."port_sales"."orders_v1"),
        l as (select * from "warehouse"."port_sales"."order_lines_v1"),
        ranked as (
            select o.order_id, o.region, l.line_amount,
                   row_number() over (partition by o.region order by o.order_ts) as rn
            from o join l on l.order_id = o.order_id
            where o.status <> 'cancelled'
        )
        select
            region,
            sum(line_amount) filter (where rn = 1) as first_amount,
            max(case region when 'EU' then line_amount end) as eu_max,
            iif(max(line_amount) > 100, 'big', 'small') as size
        from ranked
        group by region
        having sum(line_amount) > 0
        order by region""",
}

PORT_COLUMNS = {
    ORDERS: {"order_id": "BIGINT", "order_ts": "TIMESTAMP", "status": "VARCHAR", "region": "VARCHAR"},
    LINES: {"order_id": "BIGINT", "line_amount": "DECIMAL(18,2)"},
}


def test_columns_are_traced_through_staging_models_to_the_landing_files():
    lineage = DbtColumnLineage(MANIFEST).model("orders")
    assert lineage["order_id"].inputs == (InputColumn(SHOP, "order_id"),)
    assert lineage["status"].inputs == (InputColumn(SHOP, "status"),)
    assert lineage["status"].subtype == "TRANSFORMATION"  # lower() in the staging model


def test_columns_of_a_join_over_ports_come_from_the_right_port_with_the_kind_of_transformation():
    lineage = DbtColumnLineage(MANIFEST, PORT_COLUMNS.get).model("revenue")
    assert lineage["revenue_date"].inputs == (InputColumn(ORDERS, "order_ts"),)
    assert lineage["revenue_date"].subtype == "TRANSFORMATION"
    # Unqualified names in a join resolve only because the ports' columns are known.
    assert lineage["region"].inputs == (InputColumn(ORDERS, "region"),)
    assert lineage["region"].subtype == "IDENTITY"
    # status only decides which amounts count: INDIRECT/CONDITIONAL, not an input whose value flows.
    assert lineage["net_revenue"].inputs == (InputColumn(LINES, "line_amount"),)
    assert lineage["net_revenue"].indirect == ((InputColumn(ORDERS, "status"), "CONDITIONAL"),)
    assert lineage["net_revenue"].subtype == "AGGREGATION"
    assert lineage["orders"].inputs == ()  # count(*) reads no column


def test_an_unknown_or_unparsable_model_has_no_column_lineage():
    broken = {
        **MANIFEST,
        "nodes": {
            "model.x.bad": {
                **MANIFEST["nodes"]["model.meshwork.orders"],
                "name": "bad",
                "compiled_code": "select from where (((",
            }
        },
    }
    assert DbtColumnLineage(MANIFEST).model("nope") == {}
    assert DbtColumnLineage(broken).model("bad") == {}


def test_columns_that_only_decide_a_value_are_indirect_per_field():
    lineage = DbtColumnLineage(MANIFEST, PORT_COLUMNS.get).model("clauses")
    assert lineage["first_amount"].inputs == (InputColumn(LINES, "line_amount"),)
    # rn is a row number over region and order_ts: both decide which amount is summed.
    assert set(lineage["first_amount"].indirect) == {
        (InputColumn(ORDERS, "region"), "FILTER"),
        (InputColumn(ORDERS, "order_ts"), "FILTER"),
    }
    assert lineage["eu_max"].inputs == (InputColumn(LINES, "line_amount"),)
    assert lineage["eu_max"].indirect == ((InputColumn(ORDERS, "region"), "CONDITIONAL"),)
    assert lineage["size"].inputs == () and lineage["size"].indirect == (
        (InputColumn(LINES, "line_amount"), "CONDITIONAL"),
    )
    assert lineage["region"].indirect == ()


def test_columns_that_decide_the_rows_are_indirect_for_the_dataset():
    rows = set(DbtColumnLineage(MANIFEST, PORT_COLUMNS.get).dataset("clauses"))
    assert rows == {
        (InputColumn(ORDERS, "status"), "FILTER"),  # where
        (InputColumn(LINES, "line_amount"), "FILTER"),  # having
        (InputColumn(ORDERS, "order_id"), "JOIN"),
        (InputColumn(LINES, "order_id"), "JOIN"),
        (InputColumn(ORDERS, "region"), "GROUP_BY"),
        (InputColumn(ORDERS, "region"), "SORT"),
        (InputColumn(ORDERS, "region"), "WINDOW"),
        (InputColumn(ORDERS, "order_ts"), "WINDOW"),
    }
    # `join … using (order_id)` and `group by 1, 2` (positions) count too.
    revenue = set(DbtColumnLineage(MANIFEST, PORT_COLUMNS.get).dataset("revenue"))
    assert {(InputColumn(ORDERS, "order_id"), "JOIN"), (InputColumn(LINES, "order_id"), "JOIN")} <= revenue
    assert {(InputColumn(ORDERS, "order_ts"), "GROUP_BY"), (InputColumn(ORDERS, "region"), "GROUP_BY")} <= revenue
    assert DbtColumnLineage(MANIFEST).dataset("nope") == ()
