"""customers/customer_profiles: the CRM's CSV export, typed, cleaned and de-duplicated per customer."""

from datetime import date, datetime

import pytest

from meshwork.runtime.testing import run_product
from tests.products.support import by, failed_rules

PRODUCT = "customers/customer_profiles"
pytestmark = pytest.mark.usefixtures("exported_landing_files")


def customer(customer_id: str, email: str | None, **values: str | None) -> dict[str, str | None]:
    """A row of the CRM export (every field is text, an absent value an empty field)."""
    return {
        "customer_id": customer_id,
        "first_name": "Ana",
        "last_name": "Almeida",
        "email": email,
        "phone": "+351 912 345 678",
        "birth_date": "1990-04-01",
        "street": "Rua Augusta 1",
        "city": "Lisbon",
        "postcode": "1100-048",
        "country": "PT",
        "created_at": "2024-01-05 10:00:00",
    } | values


def test_the_export_is_typed_trimmed_and_the_newest_record_of_a_merged_customer_kept():
    run = run_product(
        PRODUCT,
        sources={
            "crm/customers": [
                customer("1", "  Ana.Almeida@Example.COM ", first_name="  Ana ", last_name="Almeida  ", country=" pt"),
                # Customer 2 exported twice after a CRM merge: the record created last is the profile.
                customer(
                    "2",
                    "ben.old@example.com",
                    first_name="Ben",
                    last_name="Berg",
                    city="Berlin",
                    country="DE",
                    created_at="2024-02-01 09:00:00",
                ),
                customer(
                    "2",
                    "Ben.Berg@Example.com",
                    first_name="Benjamin",
                    last_name="Berg",
                    phone="   ",
                    birth_date=None,
                    street=None,
                    city="Hamburg",
                    postcode=None,
                    country="de",
                    created_at="2024-03-01 09:00:00",
                ),
            ]
        },
    )

    assert run.passed, run.describe()
    assert by(run.rows, "customer_id") == [
        {
            "customer_id": 1,
            "first_name": "Ana",
            "last_name": "Almeida",
            "email": "ana.almeida@example.com",
            "phone": "+351 912 345 678",
            "birth_date": date(1990, 4, 1),
            "street": "Rua Augusta 1",
            "city": "Lisbon",
            "postcode": "1100-048",
            "country": "PT",
            "created_at": datetime(2024, 1, 5, 10, 0),
        },
        {
            "customer_id": 2,
            "first_name": "Benjamin",
            "last_name": "Berg",
            "email": "ben.berg@example.com",
            "phone": None,  # blank in the export
            "birth_date": None,
            "street": None,
            "city": "Hamburg",
            "postcode": None,
            "country": "DE",
            "created_at": datetime(2024, 3, 1, 9, 0),
        },
    ]


def test_two_customers_whose_emails_differ_only_in_case_and_spaces_break_email_uniqueness():
    # Lower-casing and trimming make the two addresses one; de-duplication is per customer_id only.
    run = run_product(
        PRODUCT,
        sources={"crm/customers": [customer("1", "Ana@Example.com"), customer("2", " ana@example.com")]},
    )

    assert not run.passed
    assert failed_rules(run) == {"email.unique"}
    assert "'email' is unique" in run.describe()


def test_a_customer_exported_without_an_email_breaks_its_required_value():
    run = run_product(
        PRODUCT,
        sources={"crm/customers": [customer("1", "ana@example.com"), customer("2", None)]},
    )

    assert not run.passed
    assert failed_rules(run) == {"email.not_null"}
    assert "'email' is never empty" in run.describe()


@pytest.mark.parametrize("complete_first", [False, True], ids=["complete-last-in-file", "complete-first-in-file"])
def test_a_merged_customer_exported_twice_at_the_same_time_keeps_the_more_complete_record(complete_first):
    rows = [customer("3", "cy@example.com", phone="", street=""), customer("3", "cy@example.com")]
    run = run_product(PRODUCT, sources={"crm/customers": rows[::-1] if complete_first else rows})

    assert run.passed, run.describe()
    assert [(r["customer_id"], r["phone"], r["street"]) for r in run.rows] == [(3, "+351 912 345 678", "Rua Augusta 1")]
