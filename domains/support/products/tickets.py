"""Ingest the helpdesk's ticket dump (JSON lines) into typed tickets with their resolution time."""

import duckdb

from meshwork.runtime.python_products import ProductContext


def build(ctx: ProductContext) -> duckdb.DuckDBPyRelation:
    dump = ctx.source_path("helpdesk", "tickets") / "*.jsonl"
    return ctx.con.sql(
        """
        WITH raw AS (
            SELECT * FROM read_json(?, format = 'newline_delimited', columns = {
                ticket_id: 'VARCHAR', customer_id: 'BIGINT', opened_at: 'VARCHAR', closed_at: 'VARCHAR',
                channel: 'VARCHAR', priority: 'VARCHAR', category: 'VARCHAR', satisfaction: 'INTEGER'
            })
        ),
        typed AS (
            SELECT
                ticket_id,
                customer_id,
                CAST(opened_at AS TIMESTAMP) AS opened_at,
                CAST(closed_at AS TIMESTAMP) AS closed_at,
                channel,
                priority,
                category,
                satisfaction
            FROM raw
        )
        SELECT
            *,
            date_diff('second', opened_at, closed_at) / 3600.0 AS resolution_hours
        FROM typed
        """,
        params=[str(dump)],
    )
