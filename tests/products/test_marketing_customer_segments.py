"""marketing/customer_segments: a segment per customer from value and recency (against the newest order)."""

from datetime import datetime
from decimal import Decimal

import pytest

from domains.marketing.products.customer_segments import UnknownCountry
from meshwork.runtime.testing import run_product
from tests.products.support import failed_rules

PRODUCT = "marketing/customer_segments"
AS_OF = datetime(2024, 12, 31, 12)  # the newest last_order_at in the samples below: recency is measured from it


def c360(customer_id: int, orders: int, value: str, last_order_at: datetime | None, country: str = "PT") -> dict:
    """A row of the customer_360 port (only what segmentation reads); value in the country's currency."""
    return {
        "customer_id": customer_id,
        "country": country,
        "orders": orders,
        "lifetime_value": Decimal(value),
        "last_order_at": last_order_at,
    }


def segments(run) -> dict[int, str]:
    return {r["customer_id"]: r["segment"] for r in run.rows}


def test_each_threshold_of_value_and_recency_and_their_precedence():
    # 2024 is a leap year: 365 days before AS_OF is 2024-01-01 12:00, 180 days before is 2024-07-04 12:00.
    customers = [
        c360(1, 0, "0.00", None),  # never bought
        c360(2, 5, "3000.00", datetime(2024, 1, 1, 11, 59)),  # a champion's value, but over a year ago
        c360(3, 4, "1500.00", AS_OF),  # exactly on both champion thresholds
        c360(4, 4, "1499.99", datetime(2024, 12, 1)),  # a cent short of a champion
        c360(5, 3, "5000.00", datetime(2024, 12, 1)),  # an order short of a champion
        c360(6, 2, "200.00", datetime(2024, 6, 1)),  # over 180 days ago
        c360(7, 6, "2000.00", datetime(2024, 6, 1)),  # champion value outranks the 180-day recency
        c360(8, 1, "10.00", datetime(2024, 1, 1, 12)),  # exactly 365 days: not yet dormant
        c360(9, 1, "10.00", datetime(2024, 7, 4, 12)),  # exactly 180 days: not yet at risk
    ]
    run = run_product(PRODUCT, inputs={"marketing/customer_360": customers})

    assert run.passed, run.describe()
    assert segments(run) == {
        1: "new",
        2: "dormant",
        3: "champion",
        4: "loyal",
        5: "loyal",
        6: "at_risk",
        7: "champion",
        8: "at_risk",
        9: "loyal",
    }
    # Value and orders are carried over from customer_360 as they are, and nothing else.
    assert {r["customer_id"]: r for r in run.rows} == {
        c["customer_id"]: {
            "customer_id": c["customer_id"],
            "segment": segments(run)[c["customer_id"]],
            "lifetime_value": c["lifetime_value"],
            "orders": c["orders"],
        }
        for c in customers
    }


def test_when_nobody_has_ordered_yet_everyone_is_new():
    # No order at all leaves no reference date; the 'new' branch decides before recency is compared.
    run = run_product(PRODUCT, inputs={"marketing/customer_360": [c360(1, 0, "0.00", None), c360(2, 0, "0.00", None)]})

    assert run.passed, run.describe()
    assert segments(run) == {1: "new", 2: "new"}


def test_a_customer_twice_in_customer_360_breaks_customer_id_uniqueness():
    # Segmentation keeps every input row: a duplicate customer_360 row (which its own contract refuses)
    # would give the customer two segments, and this contract stops it.
    run = run_product(
        PRODUCT,
        inputs={"marketing/customer_360": [c360(1, 4, "2000.00", AS_OF), c360(1, 1, "10.00", datetime(2023, 1, 1))]},
    )

    assert not run.passed
    assert failed_rules(run) == {"customer_id.unique"}
    assert "'customer_id' is unique" in run.describe()


def test_the_champion_value_is_in_the_customers_own_currency():
    # 1,500 NOK is about EUR 130: the same figure that makes a Portuguese champion does not make a Norwegian one.
    customers = [
        c360(1, 4, "1500.00", AS_OF, country="PT"),
        c360(2, 4, "1500.00", AS_OF, country="NO"),
        c360(3, 4, "17000.00", AS_OF, country="NO"),
        c360(4, 4, "6499.99", AS_OF, country="PL"),
        c360(5, 4, "6500.00", AS_OF, country="PL"),
    ]
    run = run_product(PRODUCT, inputs={"marketing/customer_360": customers})

    assert run.passed, run.describe()
    assert segments(run) == {1: "champion", 2: "loyal", 3: "champion", 4: "loyal", 5: "champion"}


def test_a_buying_customer_in_a_country_without_a_threshold_stops_the_build_naming_it():
    customers = [c360(1, 4, "1500.00", AS_OF), c360(2, 4, "900.00", AS_OF, country="SE"), c360(3, 0, "0", None, "JP")]

    with pytest.raises(UnknownCountry, match=r"no champion value threshold for 'SE' \(customer_360.country\)"):
        run_product(PRODUCT, inputs={"marketing/customer_360": customers})
