"""The sales domain's own quality rules, written with pandera (run in DuckDB via pandera's ibis backend).

Contracts reference them as ``quality: {type: custom, engine: pandera, implementation: "checks:<function>"}``.
"""

import pandera.ibis as pa


def positive_amounts() -> pa.DataFrameSchema:
    """Every line sells at least one unit at a positive price."""
    return pa.DataFrameSchema(
        {
            "quantity": pa.Column(checks=pa.Check(lambda d: d.table[d.key] > 0, name="quantity_positive")),
            "unit_price": pa.Column(checks=pa.Check(lambda d: d.table[d.key] > 0, name="unit_price_positive")),
        },
        strict=False,
    )
