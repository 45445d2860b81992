"""The classification draft of onboarding: suggestions with evidence from names and sampled values."""

from __future__ import annotations

from datetime import date

import pytest

from meshwork.authoring.classify_draft import review_list, suggest


@pytest.mark.parametrize(
    ("column", "values", "expected", "evidence"),
    [
        ("email", [], "pii", "an e-mail address"),
        ("contact", ["ann@example.com", "bob@example.org", "cy@example.net"], "pii", "e-mail addresses"),
        ("mobile_phone", [], "pii", "a phone number"),
        ("reach_at", ["+44 20 7946 0958", "+1 (555) 010-4477", "+49 30 901820"], "pii", "phone numbers"),
        ("first_name", [], "pii", "a person's name"),
        ("surname", ["Smith"], "pii", "a person's name"),
        ("date_of_birth", [date(1990, 1, 2)], "pii", "a birth date"),
        ("street", [], "pii", "a postal address"),
        ("postcode", [], "pii", "a postal address"),
        ("card_number", [], "sensitive-pii", "a payment card number"),
        ("payment_ref", ["4111 1111 1111 1111", "5500-0000-0000-0004", "340000000000009"], "sensitive-pii", "Luhn"),
        ("ssn", [], "sensitive-pii", "a national identifier"),
        ("iban", [], "sensitive-pii", "bank account"),
    ],
)
def test_personal_data_is_suggested_with_its_evidence(column, values, expected, evidence):
    found = suggest(column, values)
    assert (found.column, found.classification) == (column, expected)
    assert evidence in found.evidence


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("order_date", [date(2018, 1, 1), date(2018, 1, 2)]),  # dates are not phone numbers
        ("order_day", ["2018-01-01", "2018-01-02"]),  # nor are dates written as text
        ("credit_card_amount", [10.5, 3.0]),  # an amount paid by card, not a card number
        ("amount", ["1234567", "7654321"]),  # digits only: not a phone number
        ("reference", ["4111 1111 1111 1112", "5500-0000-0000-0005"]),  # not Luhn-valid
        ("status", ["placed", "shipped"]),
        ("product_name", ["Jaffle"]),  # a product's name, not a person's
    ],
)
def test_ordinary_columns_are_drafted_internal_not_public(column, values):
    found = suggest(column, values)
    assert found.classification == "internal", found
    assert "public only if meant" in found.evidence


def test_a_few_matching_values_are_not_evidence():
    assert suggest("note", ["ann@example.com", "call me", "later", "n/a", "?"]).classification == "internal"


def test_the_review_list_applies_nothing_and_names_the_contract():
    text = review_list("shop/customers", "domains/shop/contracts/customers.odcs.yaml", {"email": suggest("email")})
    assert "`domains/shop/contracts/customers.odcs.yaml`" in text
    assert "| `email` | pii | the name looks like an e-mail address |" in text


@pytest.mark.parametrize(
    ("column", "values", "expected", "evidence"),
    [
        ("tax_ref", ["123-45-6789", "234-56-7890", "345-67-8901"], "sensitive-pii", "social security numbers"),
        (
            "account",
            ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00", "FR14 2004 1010 0505 0001 3M02 606"],
            "sensitive-pii",
            "valid IBANs",
        ),
        ("ship_to", ["221B Baker Street", "10 Downing St", "1600 Pennsylvania Avenue NW"], "pii", "street addresses"),
        ("contact", ["Stephanie Love", "Kristi Keller", "John Smith", "Ann Lee"], "pii", "person names"),
        ("born", [date(1980, 1, 1), date(1975, 5, 5), date(2001, 3, 3)], "pii", "like birth dates"),
    ],
)
def test_personal_data_is_recognised_from_sampled_values_alone(column, values, expected, evidence):
    found = suggest(column, values)
    assert found.classification == expected, found
    assert evidence in found.evidence and "the name looks like" not in found.evidence


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("store", ["Philadelphia", "Brooklyn", "Chicago"]),  # one word: a place, not a person
        ("city", ["New York", "New York", "New York", "Vice City"]),  # repeated: not people
        ("opened", [date(2016, 9, 1), date(2017, 1, 1), date(1999, 1, 1)]),  # recent dates: not birth dates
        ("code", ["GB82 WEST 1234 5698 7654 33", "DE89 3704 0044 0532 0130 01", "FR14 2004 1010 0505 0001 3M02 607"]),
    ],
)
def test_values_that_only_resemble_personal_data_are_not_evidence(column, values):
    assert suggest(column, values).classification == "internal"


def test_numbers_never_issued_as_social_security_numbers_are_not_called_national_ids():
    found = suggest("serial", ["000-12-3456", "666-12-3456", "900-12-3456"])
    assert found.classification != "sensitive-pii" and "social security" not in found.evidence
