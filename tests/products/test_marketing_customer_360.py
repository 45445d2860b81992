"""marketing/customer_360: one row per customer with their completed purchases and support experience."""

from datetime import datetime
from decimal import Decimal

import pytest

from meshwork.runtime.testing import run_product
from tests.products.support import by, failed_rules

PRODUCT = "marketing/customer_360"


def profile(customer_id: int, email: str | None, country: str, created_at: datetime) -> dict:
    return {"customer_id": customer_id, "email": email, "country": country, "created_at": created_at}


def order(order_id: int, customer_id: int, ts: datetime, status: str = "completed") -> dict:
    return {"order_id": order_id, "customer_id": customer_id, "order_ts": ts, "status": status}


def line(order_id: int, line_no: int, amount: str) -> dict:
    return {"order_id": order_id, "line_no": line_no, "line_amount": Decimal(amount)}


def ticket(ticket_id: str, customer_id: int, closed: bool, satisfaction: int | None) -> dict:
    return {
        "ticket_id": ticket_id,
        "customer_id": customer_id,
        "opened_at": datetime(2024, 6, 1, 9),
        "closed_at": datetime(2024, 6, 1, 12) if closed else None,
        "satisfaction": satisfaction,
    }


PROFILES = [
    profile(1, "ana@example.com", "PT", datetime(2023, 6, 1, 8)),
    profile(2, "ben@example.com", "DE", datetime(2024, 2, 10, 8)),
    profile(3, "chloe@example.com", "FR", datetime(2024, 7, 1, 8)),  # no orders, no tickets
]


def test_purchases_count_completed_orders_only_and_support_counts_every_ticket():
    run = run_product(
        PRODUCT,
        inputs={
            "customers/customer_profiles": PROFILES,
            "sales/orders": [
                order(10, 1, datetime(2024, 1, 10, 10)),
                order(11, 1, datetime(2024, 3, 5, 16)),
                order(12, 1, datetime(2024, 4, 1, 9), "refunded"),
                order(13, 2, datetime(2024, 2, 15, 9), "cancelled"),
                order(14, 2, datetime(2024, 5, 20, 9)),  # completed, but it has no lines
                order(15, 99, datetime(2024, 5, 21, 9)),  # a customer without a profile
            ],
            "sales/order_lines": [
                line(10, 1, "50.00"),
                line(10, 2, "9.99"),
                line(11, 1, "100.00"),
                line(12, 1, "30.00"),
                line(13, 1, "20.00"),
                line(15, 1, "70.00"),
            ],
            "support/tickets": [
                ticket("T-1", 1, closed=True, satisfaction=4),
                ticket("T-2", 1, closed=False, satisfaction=None),
                ticket("T-3", 1, closed=True, satisfaction=2),
                ticket("T-4", 2, closed=True, satisfaction=None),
            ],
        },
    )

    assert run.passed, run.describe()
    assert by(run.rows, "customer_id") == [
        {
            "customer_id": 1,
            "email": "ana@example.com",
            "country": "PT",
            "signup_year": 2023,
            "orders": 2,
            "lifetime_value": Decimal("159.99"),
            "first_order_at": datetime(2024, 1, 10, 10),
            "last_order_at": datetime(2024, 3, 5, 16),
            "tickets": 3,
            "open_tickets": 1,
            "avg_satisfaction": 3.0,
        },
        {
            "customer_id": 2,
            "email": "ben@example.com",
            "country": "DE",
            "signup_year": 2024,
            "orders": 1,
            "lifetime_value": Decimal("0.00"),
            "first_order_at": datetime(2024, 5, 20, 9),
            "last_order_at": datetime(2024, 5, 20, 9),
            "tickets": 1,
            "open_tickets": 0,
            "avg_satisfaction": None,
        },
        {
            "customer_id": 3,
            "email": "chloe@example.com",
            "country": "FR",
            "signup_year": 2024,
            "orders": 0,
            "lifetime_value": Decimal("0.00"),
            "first_order_at": None,
            "last_order_at": None,
            "tickets": 0,
            "open_tickets": 0,
            "avg_satisfaction": None,
        },
    ]


@pytest.mark.parametrize(
    ("profiles", "rule", "description"),
    [
        (
            [*PROFILES, profile(2, "ben.b@example.com", "DE", datetime(2024, 3, 1))],
            "customer_id.unique",
            "'customer_id' is unique",
        ),
        ([*PROFILES[:2], profile(3, None, "FR", datetime(2024, 7, 1))], "email.not_null", "'email' is never empty"),
    ],
    ids=["profile-twice", "no-email"],
)
def test_a_profile_the_join_passes_through_but_the_contract_refuses(profiles, rule, description):
    # Every profile becomes a row as it is; what customer_profiles' own contract should have stopped
    # (a customer twice, a missing email) is stopped again here.
    run = run_product(
        PRODUCT,
        inputs={
            "customers/customer_profiles": profiles,
            "sales/orders": [],
            "sales/order_lines": [],
            "support/tickets": [],
        },
    )

    assert not run.passed
    assert failed_rules(run) == {rule}
    assert description in run.describe()
