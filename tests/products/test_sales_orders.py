"""sales/orders: the shop's order export, normalised and de-duplicated, every order of a known customer."""

from datetime import datetime

import pytest

from meshwork.runtime.testing import run_product
from tests.products.support import by, failed_rules

PRODUCT = "sales/orders"
CUSTOMERS = {"customers/customer_profiles": [{"customer_id": 1}, {"customer_id": 2}]}


def order(order_id: int, **values: object) -> dict[str, object]:
    """A row of the shop's order export."""
    return {
        "order_id": order_id,
        "customer_id": 1,
        "order_ts": datetime(2024, 5, 1, 10, 0),
        "status": "completed",
        "region": "EMEA",
        "currency": "EUR",
        "channel": "web",
    } | values


def test_orders_are_normalised_and_an_order_repeated_by_a_retry_is_kept_once_at_its_latest_timestamp():
    # The contract's freshness rule reads the real clock: 2024 orders are within its ten years until 2034.
    run = run_product(
        PRODUCT,
        inputs=CUSTOMERS,
        sources={
            "shop/orders": [
                order(1, status="Completed", region="emea", currency="eur", channel="Web"),
                order(
                    2,
                    customer_id=2,
                    order_ts=datetime(2024, 5, 2, 11, 30),
                    status="CANCELLED",
                    region="amer",
                    currency="usd",
                    channel="App",
                ),
                order(3, order_ts=datetime(2024, 5, 3, 8, 0), status="completed", channel="marketplace"),
                order(3, order_ts=datetime(2024, 5, 3, 8, 5), status="refunded", channel="marketplace"),
            ]
        },
    )

    assert run.passed, run.describe()
    assert by(run.rows, "order_id") == [
        {
            "order_id": 1,
            "customer_id": 1,
            "order_ts": datetime(2024, 5, 1, 10, 0),
            "status": "completed",
            "region": "EMEA",
            "currency": "EUR",
            "channel": "web",
        },
        {
            "order_id": 2,
            "customer_id": 2,
            "order_ts": datetime(2024, 5, 2, 11, 30),
            "status": "cancelled",
            "region": "AMER",
            "currency": "USD",
            "channel": "app",
        },
        {
            "order_id": 3,
            "customer_id": 1,
            "order_ts": datetime(2024, 5, 3, 8, 5),
            "status": "refunded",
            "region": "EMEA",
            "currency": "EUR",
            "channel": "marketplace",
        },
    ]


@pytest.mark.parametrize(
    ("values", "rule", "description"),
    [
        ({"customer_id": 99}, "customer_id.foreign_key", "every 'customer_id' exists in customers/customer_profiles"),
        ({"status": "Shipped"}, "status.allowed_values", "'status' is one of"),
        ({"currency": "euro"}, "currency.pattern", "'currency' matches /^[A-Z]{3}$/"),
        ({"region": None}, "region.not_null", "'region' is never empty"),
        ({"order_ts": datetime(2010, 1, 1)}, "order_ts.freshness", "the newest 'order_ts' is at most 3650d old"),
    ],
    ids=["unknown-customer", "unknown-status", "bad-currency", "no-region", "ten-years-old"],
)
def test_an_order_the_normalisation_lets_through_but_the_contract_refuses(values, rule, description):
    run = run_product(PRODUCT, inputs=CUSTOMERS, sources={"shop/orders": [order(1, **values)]})

    assert not run.passed
    assert failed_rules(run) == {rule}
    assert description in run.describe()


@pytest.mark.parametrize("refund_first", [False, True], ids=["refund-last-in-file", "refund-first-in-file"])
def test_a_status_change_exported_with_the_same_timestamp_keeps_the_later_status_whatever_the_file_order(
    refund_first,
):
    # A refund re-exported without a new order_ts: the timestamp cannot decide, the order's life does.
    rows = [order(7, status="completed"), order(7, status="refunded")]
    run = run_product(PRODUCT, inputs=CUSTOMERS, sources={"shop/orders": rows[::-1] if refund_first else rows})

    assert run.passed, run.describe()
    assert [(r["order_id"], r["status"]) for r in run.rows] == [(7, "refunded")]
