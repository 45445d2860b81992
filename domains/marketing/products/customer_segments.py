"""Segment customers by value and recency, from the domain's own customer_360 port."""

import duckdb

from meshwork.runtime.python_products import ProductContext


def build(ctx: ProductContext) -> duckdb.DuckDBPyRelation:
    c360 = ctx.input("marketing/customer_360")
    return c360.query(
        "c360",
        """
        WITH reference AS (
            -- Recency is measured against the newest order in the data, so rebuilding old data
            -- gives the same segments.
            SELECT max(last_order_at) AS as_of FROM c360
        )
        SELECT
            customer_id,
            CASE
                WHEN orders = 0 THEN 'new'
                WHEN last_order_at < as_of - INTERVAL 365 DAY THEN 'dormant'
                WHEN lifetime_value >= 1500 AND orders >= 4 THEN 'champion'
                WHEN last_order_at < as_of - INTERVAL 180 DAY THEN 'at_risk'
                ELSE 'loyal'
            END AS segment,
            lifetime_value,
            orders
        FROM c360, reference
        """,
    )
