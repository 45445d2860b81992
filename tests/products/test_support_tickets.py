"""support/tickets: the helpdesk's JSON-lines dump, typed, with each closed ticket's resolution time."""

from datetime import datetime

import pytest

from meshwork.runtime.testing import run_product
from tests.products.support import by, failed_rules

PRODUCT = "support/tickets"
CUSTOMERS = {"customers/customer_profiles": [{"customer_id": 1}, {"customer_id": 2}]}
pytestmark = pytest.mark.usefixtures("exported_landing_files")


def ticket(ticket_id: str, **values: object) -> dict[str, object]:
    """A record of the helpdesk dump (times as ISO text, as the helpdesk API gives them)."""
    return {
        "ticket_id": ticket_id,
        "customer_id": 1,
        "opened_at": "2024-03-01T09:00:00",
        "closed_at": "2024-03-01T10:00:00",
        "channel": "email",
        "priority": "normal",
        "category": "delivery",
        "satisfaction": 4,
    } | values


def test_closed_tickets_get_their_resolution_hours_and_open_ones_none():
    run = run_product(
        PRODUCT,
        inputs=CUSTOMERS,
        sources={
            "helpdesk/tickets": [
                ticket("T-1", closed_at="2024-03-01T15:30:00", priority="high"),
                ticket(
                    "T-2",
                    customer_id=2,
                    opened_at="2024-03-02T10:00:00",
                    closed_at=None,
                    channel="phone",
                    category="payment",
                    satisfaction=None,
                ),
                # Closed the day after next, across midnight: 1h + 24h + 1h15.
                ticket(
                    "T-3",
                    opened_at="2024-03-03T23:00:00",
                    closed_at="2024-03-05T01:15:00",
                    channel="chat",
                    priority="urgent",
                    category="returns",
                    satisfaction=5,
                ),
            ]
        },
    )

    assert run.passed, run.describe()
    assert by(run.rows, "ticket_id") == [
        {
            "ticket_id": "T-1",
            "customer_id": 1,
            "opened_at": datetime(2024, 3, 1, 9, 0),
            "closed_at": datetime(2024, 3, 1, 15, 30),
            "channel": "email",
            "priority": "high",
            "category": "delivery",
            "satisfaction": 4,
            "resolution_hours": 6.5,
        },
        {
            "ticket_id": "T-2",
            "customer_id": 2,
            "opened_at": datetime(2024, 3, 2, 10, 0),
            "closed_at": None,
            "channel": "phone",
            "priority": "normal",
            "category": "payment",
            "satisfaction": None,
            "resolution_hours": None,
        },
        {
            "ticket_id": "T-3",
            "customer_id": 1,
            "opened_at": datetime(2024, 3, 3, 23, 0),
            "closed_at": datetime(2024, 3, 5, 1, 15),
            "channel": "chat",
            "priority": "urgent",
            "category": "returns",
            "satisfaction": 5,
            "resolution_hours": 26.25,
        },
    ]


@pytest.mark.parametrize(
    ("values", "rule", "description"),
    [
        ({"satisfaction": 6}, "satisfaction.range", "'satisfaction' lies in [1, 5]"),
        ({"satisfaction": 0}, "satisfaction.range", "'satisfaction' lies in [1, 5]"),
        ({"channel": "fax"}, "channel.allowed_values", "'channel' is one of ['email', 'chat', 'phone']"),
        ({"priority": "Urgent"}, "priority.allowed_values", "'priority' is one of"),  # no case normalisation
        ({"customer_id": 99}, "customer_id.foreign_key", "every 'customer_id' exists in customers/customer_profiles"),
        ({"category": None}, "category.not_null", "'category' is never empty"),
        # Closed an hour before it was opened: a negative resolution time would pull every average down.
        ({"closed_at": "2024-03-01T08:00:00"}, "resolution_hours.range", "'resolution_hours' lies in [0,"),
    ],
    ids=[
        "rating-6",
        "rating-0",
        "unknown-channel",
        "capitalised-priority",
        "unknown-customer",
        "no-category",
        "closed-before-opened",
    ],
)
def test_a_ticket_the_typing_lets_through_but_the_contract_refuses(values, rule, description):
    run = run_product(PRODUCT, inputs=CUSTOMERS, sources={"helpdesk/tickets": [ticket("T-1"), ticket("T-2", **values)]})

    assert not run.passed
    assert failed_rules(run) == {rule}
    assert description in run.describe()


def test_a_ticket_closed_the_minute_it_was_opened_takes_zero_hours():
    run = run_product(
        PRODUCT, inputs=CUSTOMERS, sources={"helpdesk/tickets": [ticket("T-1", closed_at="2024-03-01T09:00:00")]}
    )

    assert run.passed, run.describe()
    assert [r["resolution_hours"] for r in run.rows] == [0.0]


def test_a_ticket_id_dumped_twice_breaks_its_uniqueness():
    # The dump is taken as is: nothing de-duplicates a ticket the helpdesk API returned twice.
    run = run_product(PRODUCT, inputs=CUSTOMERS, sources={"helpdesk/tickets": [ticket("T-1"), ticket("T-1")]})

    assert not run.passed
    assert failed_rules(run) == {"ticket_id.unique"}
    assert "'ticket_id' is unique" in run.describe()
