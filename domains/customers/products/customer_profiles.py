"""Ingest the CRM's customer export into a typed, de-duplicated profile per customer."""

import duckdb

from meshwork.runtime.python_products import ProductContext


def build(ctx: ProductContext) -> duckdb.DuckDBPyRelation:
    export = ctx.source_path("crm", "customers") / "*.csv"
    return ctx.con.sql(
        """
        WITH raw AS (
            SELECT * FROM read_csv(?, header = true, all_varchar = true)
        ),
        typed AS (
            SELECT
                CAST(customer_id AS BIGINT) AS customer_id,
                trim(first_name) AS first_name,
                trim(last_name) AS last_name,
                lower(trim(email)) AS email,
                nullif(trim(phone), '') AS phone,
                CAST(birth_date AS DATE) AS birth_date,
                nullif(trim(street), '') AS street,
                nullif(trim(city), '') AS city,
                nullif(trim(postcode), '') AS postcode,
                upper(trim(country)) AS country,
                CAST(created_at AS TIMESTAMP) AS created_at
            FROM raw
        )
        -- The CRM can export a customer twice after a merge: keep the most recent record, and on a tie
        -- the more complete one, then by content, so the file order never decides.
        SELECT * FROM typed
        QUALIFY row_number() OVER (
            PARTITION BY customer_id
            ORDER BY
                created_at DESC,
                (phone IS NOT NULL)::INT + (street IS NOT NULL)::INT + (city IS NOT NULL)::INT
                    + (postcode IS NOT NULL)::INT + (birth_date IS NOT NULL)::INT DESC,
                email, last_name, first_name, phone, street, city, postcode, country, birth_date
        ) = 1
        """,
        params=[str(export)],
    )
