"""finance/daily_revenue: gross, refunded and net revenue per day, region and currency."""

from datetime import date, datetime
from decimal import Decimal

from meshwork.runtime.testing import run_product
from tests.products.support import by, failed_rules

PRODUCT = "finance/daily_revenue"


def order(order_id: int, ts: datetime, status: str, region: str | None = "EMEA", currency: str = "EUR") -> dict:
    """A row of the sales/orders port."""
    return {
        "order_id": order_id,
        "customer_id": 1,
        "order_ts": ts,
        "status": status,
        "region": region,
        "currency": currency,
        "channel": "web",
    }


def line(order_id: int, line_no: int, amount: str) -> dict:
    """A row of the sales/order_lines port (only what the revenue reads besides the key)."""
    return {"order_id": order_id, "line_no": line_no, "line_amount": Decimal(amount)}


def test_completed_and_refunded_orders_make_gross_refunds_are_taken_out_of_net_and_cancelled_count_nowhere():
    may1 = datetime(2024, 5, 1)
    run = run_product(
        PRODUCT,
        inputs={
            "sales/orders": [
                order(1, may1.replace(hour=9), "completed"),
                order(2, may1.replace(hour=17, minute=30), "refunded"),
                order(3, may1.replace(hour=12), "cancelled"),
                order(4, may1.replace(hour=23, minute=59, second=59), "completed", region="AMER", currency="USD"),
                order(5, may1.replace(hour=8), "completed", currency="USD"),  # same day and region, other currency
                order(6, datetime(2024, 5, 2, 0, 0), "completed"),  # the next day (UTC); it has no lines
            ],
            "sales/order_lines": [
                line(1, 1, "20.00"),
                line(1, 2, "5.50"),
                line(2, 1, "12.25"),
                line(3, 1, "100.00"),
                line(4, 1, "40.00"),
                line(5, 1, "7.00"),
            ],
        },
    )

    assert run.passed, run.describe()
    assert by(run.rows, "revenue_date", "region", "currency") == [
        {
            "revenue_date": date(2024, 5, 1),
            "region": "AMER",
            "currency": "USD",
            "orders": 1,
            "gross_revenue": Decimal("40.00"),
            "refunded_revenue": Decimal("0.00"),
            "net_revenue": Decimal("40.00"),
        },
        {
            "revenue_date": date(2024, 5, 1),
            "region": "EMEA",
            "currency": "EUR",
            "orders": 2,
            "gross_revenue": Decimal("37.75"),
            "refunded_revenue": Decimal("12.25"),
            "net_revenue": Decimal("25.50"),
        },
        {
            "revenue_date": date(2024, 5, 1),
            "region": "EMEA",
            "currency": "USD",
            "orders": 1,
            "gross_revenue": Decimal("7.00"),
            "refunded_revenue": Decimal("0.00"),
            "net_revenue": Decimal("7.00"),
        },
        {
            "revenue_date": date(2024, 5, 2),
            "region": "EMEA",
            "currency": "EUR",
            "orders": 1,
            "gross_revenue": Decimal("0.00"),
            "refunded_revenue": Decimal("0.00"),
            "net_revenue": Decimal("0.00"),
        },
    ]


def test_a_day_with_only_cancelled_orders_has_no_revenue_row():
    run = run_product(
        PRODUCT,
        inputs={
            "sales/orders": [
                order(1, datetime(2024, 5, 1, 9), "cancelled"),
                order(2, datetime(2024, 5, 2, 9), "completed"),
            ],
            "sales/order_lines": [line(1, 1, "50.00"), line(2, 1, "10.00")],
        },
    )

    assert run.passed, run.describe()
    assert by(run.rows, "revenue_date") == [
        {
            "revenue_date": date(2024, 5, 2),
            "region": "EMEA",
            "currency": "EUR",
            "orders": 1,
            "gross_revenue": Decimal("10.00"),
            "refunded_revenue": Decimal("0.00"),
            "net_revenue": Decimal("10.00"),
        },
    ]


def test_an_order_without_a_region_makes_a_row_the_contract_refuses():
    # The aggregation groups what it is given: an order port row without a region (which sales/orders'
    # own contract refuses) would become a revenue row without one, and this contract stops it.
    run = run_product(
        PRODUCT,
        inputs={
            "sales/orders": [order(1, datetime(2024, 5, 1, 9), "completed", region=None)],
            "sales/order_lines": [line(1, 1, "10.00")],
        },
    )

    assert not run.passed
    assert failed_rules(run) == {"region.not_null"}
    assert "'region' is never empty" in run.describe()
