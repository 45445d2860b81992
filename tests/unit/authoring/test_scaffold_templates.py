"""What `mesh new` and `mesh onboard` generate, piece by piece."""

from __future__ import annotations

import pytest

from meshwork.authoring.onboard import rewrite_sql
from meshwork.authoring.templates import ColumnDraft, contract_property, logical_type


@pytest.mark.parametrize(
    ("physical", "logical"),
    [
        ("BIGINT", "integer"),
        ("HUGEINT", "integer"),
        ("UINTEGER", "integer"),
        ("DECIMAL(18,2)", "number"),
        ("DOUBLE", "number"),
        ("VARCHAR", "string"),
        ("DATE", "date"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp"),
        ("TIME", "time"),
        ("BOOLEAN", "boolean"),
        ("VARCHAR[]", "array"),
        ("STRUCT(a INTEGER)", "object"),
    ],
)
def test_duckdb_types_map_to_odcs_logical_types(physical, logical):
    assert logical_type(physical) == logical


def test_a_contract_property_is_one_flow_mapping_like_the_hand_written_ones():
    column = ColumnDraft("amount", "DECIMAL(12,2)", "number", "Paid: in EUR", "internal", required=True)
    assert contract_property(column) == (
        '      - {name: amount, logicalType: number, physicalType: "DECIMAL(12,2)", required: true, '
        'classification: internal, description: "Paid: in EUR"}'
    )


def test_refs_and_sources_are_rewritten_to_the_new_names_only():
    sql = (
        "select * from {{ ref('orders') }} join {{ ref(\"pkg\", 'lines') }} "
        "join {{ source('shop', 'x') }} {{ ref('kept') }}"
    )
    rewritten = rewrite_sql(sql, {"orders": "s_orders", "lines": "lines", "kept": "kept"}, {"shop": "s_shop"})
    assert rewritten == (
        "select * from {{ ref('s_orders') }} join {{ ref('lines') }} join {{ source('s_shop', 'x') }} {{ ref('kept') }}"
    )
