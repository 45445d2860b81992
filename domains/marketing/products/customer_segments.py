"""Segment customers by value and recency, from the domain's own customer_360 port."""

import duckdb

from meshwork.runtime.python_products import ProductContext

# Lifetime value is in the currency the customer buys in, which follows their country. A champion's
# value threshold is therefore set per country, in its currency (about EUR 1,500 each), so that
# 1,500 NOK (~EUR 130) does not count as 1,500 EUR. A country missing here stops the build, named:
# comparing an unknown currency with a euro figure would mislabel every customer there.
CHAMPION_VALUE = {
    "AT": 1500, "DE": 1500, "ES": 1500, "FR": 1500, "IE": 1500, "PT": 1500,  # EUR
    "NO": 17000,  # NOK
    "PL": 6500,  # PLN
    "US": 1650,  # USD
    "CA": 2250,  # CAD
}  # fmt: skip


class UnknownCountry(ValueError):
    """customer_360 has buying customers in a country without a champion threshold."""


def build(ctx: ProductContext) -> duckdb.DuckDBPyRelation:
    c360 = ctx.input("marketing/customer_360")
    # Our own constants (two-letter codes, integers), written into the query as literals.
    thresholds = ", ".join(f"('{country}', {value})" for country, value in sorted(CHAMPION_VALUE.items()))
    unknown = c360.query(
        "c360",
        f"""
        SELECT DISTINCT country FROM c360
        WHERE orders > 0 AND country NOT IN (SELECT country FROM (VALUES {thresholds}) t(country, v))
        ORDER BY country
        """,
    ).fetchall()
    if unknown:
        raise UnknownCountry(
            "marketing/customer_segments: no champion value threshold for "
            f"{', '.join(repr(row[0]) for row in unknown)} (customer_360.country): add each country to "
            "CHAMPION_VALUE in domains/marketing/products/customer_segments.py, in its currency"
        )
    return c360.query(
        "c360",
        f"""
        WITH reference AS (
            -- Recency is measured against the newest order in the data, so rebuilding old data
            -- gives the same segments.
            SELECT max(last_order_at) AS as_of FROM c360
        ),
        thresholds(country, champion_value) AS (VALUES {thresholds})
        SELECT
            customer_id,
            CASE
                WHEN orders = 0 THEN 'new'
                WHEN last_order_at < as_of - INTERVAL 365 DAY THEN 'dormant'
                WHEN lifetime_value >= champion_value AND orders >= 4 THEN 'champion'
                WHEN last_order_at < as_of - INTERVAL 180 DAY THEN 'at_risk'
                ELSE 'loyal'
            END AS segment,
            lifetime_value,
            orders
        FROM c360
        CROSS JOIN reference
        LEFT JOIN thresholds USING (country)
        """,
    )
