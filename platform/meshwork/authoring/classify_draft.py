"""A first draft of column classification for an onboarded project, for a person to review.

Onboarding cannot know what a column holds, and a wrong ``public`` leaks data, so nothing here is
written into a contract: the contract's columns stay unclassified (``mesh check`` lists each until
the owner decides) and the draft goes into a review list beside the contracts, each suggestion with
its evidence. Evidence comes from the column's name and from values sampled from the table the
project built: e-mail addresses, phone numbers, person names, birth dates, street addresses, payment
card numbers (Luhn-valid) and national identifiers. By value: e-mail addresses, phone numbers, Luhn-valid
card numbers, US social security numbers and IBANs (mod-97 valid), street addresses (a number and a
street word), person names (two or three capitalised words, mostly distinct) and birth dates (dates all
between 1900 and sixteen years ago). Every one is a suggestion for a person to check, nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

# (pattern over the column name, suggested class, what it looks like)
_NAMES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"e_?mail"), "pii", "an e-mail address"),
    (re.compile(r"phone|mobile|(^|_)tel(_|$)|fax"), "pii", "a phone number"),
    (
        re.compile(r"(first|last|given|family|full|middle|sur)_?name|^name$|customer_name|person_name"),
        "pii",
        "a person's name",
    ),
    (re.compile(r"birth|(^|_)dob(_|$)"), "pii", "a birth date"),
    (re.compile(r"street|address|postcode|post_code|postal|zip"), "pii", "a postal address"),
    (re.compile(r"(^|_)ip(_address)?$|ip_addr"), "pii", "an IP address"),
    (re.compile(r"card_?(number|no|num)|(^|_)pan(_|$)|credit_card$"), "sensitive-pii", "a payment card number"),
    (
        re.compile(r"ssn|social_security|national_id|passport|tax_id|(^|_)tin(_|$)|iban|bsn|nino"),
        "sensitive-pii",
        "a national identifier or bank account",
    ),
]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{6,}[0-9]$")
_DATE_LIKE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}|^[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{2,4}$")
_CARD = re.compile(r"^[0-9][0-9 -]{11,21}[0-9]$")
_SSN = re.compile(r"^(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_STREET = re.compile(
    r"^[0-9]{1,5}[a-z]?,? +([A-Za-z'.-]+ +){0,4}(street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|"
    r"way|court|ct|place|pl|square|sq|terrace|close|strasse|straße|rue|via|calle)\.?\b",
    re.IGNORECASE,
)
_PERSON = re.compile(r"^[A-Z][a-z'-]+( [A-Z][a-z'-]+){1,2}$")
# A share of the sampled non-empty values that must match before the values count as evidence.
_SHARE = 0.8


@dataclass(frozen=True)
class Suggestion:
    column: str
    classification: str
    evidence: str


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _is_phone(value: str) -> bool:
    # E.164: at most 15 digits; a date written with dashes is not a number to call.
    return bool(_PHONE.match(value)) and not _DATE_LIKE.match(value) and 7 <= len(re.sub(r"\D", "", value)) <= 15


def _iban(value: str) -> bool:
    compact = value.replace(" ", "")
    if not _IBAN.match(compact):
        return False
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _birth_dates(values: Iterable[object]) -> str | None:
    """Evidence that dates are birth dates: all between 1900 and sixteen years before today."""
    days = [v.date() if isinstance(v, datetime) else v for v in values if isinstance(v, date)]
    if len(days) < 3:
        return None
    today = date.today()
    latest = today.replace(year=today.year - 16, day=min(today.day, 28))
    if all(date(1900, 1, 1) <= d <= latest for d in days):
        return f"{len(days)} sampled dates all lie between 1900 and {latest.year}, like birth dates"
    return None


def _values_look_like(values: list[str]) -> tuple[str, str] | None:
    texts = [v.strip() for v in values if v and v.strip()]
    if not texts:
        return None

    def share(test) -> float:
        return sum(1 for v in texts if test(v)) / len(texts)

    if share(_EMAIL.match) >= _SHARE:
        return "pii", f"{len(texts)} sampled values are e-mail addresses"
    cards = lambda v: bool(_CARD.match(v)) and _luhn(re.sub(r"\D", "", v))  # noqa: E731
    if share(cards) >= _SHARE:
        return "sensitive-pii", f"{len(texts)} sampled values are Luhn-valid card numbers"
    if share(lambda v: bool(_SSN.match(v))) >= _SHARE:
        return "sensitive-pii", f"{len(texts)} sampled values are shaped like US social security numbers"
    if share(_iban) >= _SHARE:
        return "sensitive-pii", f"{len(texts)} sampled values are valid IBANs (bank accounts)"
    if share(_is_phone) >= _SHARE and any(not v.isdigit() for v in texts):
        return "pii", f"{len(texts)} sampled values are phone numbers"
    if share(lambda v: bool(_STREET.match(v))) >= _SHARE:
        return "pii", f"{len(texts)} sampled values are street addresses"
    if share(lambda v: bool(_PERSON.match(v))) >= _SHARE and len(set(texts)) >= max(3, _SHARE * len(texts)):
        return "pii", f"{len(texts)} sampled values look like person names (capitalised words, mostly distinct)"
    return None


def suggest(column: str, values: Iterable[object] = ()) -> Suggestion:
    """The draft class of ``column``, from its name and sampled ``values``, with the evidence."""
    name = column.lower()
    # Only text is evidence: a number or a date printed as text can look like a phone number.
    values = list(values)
    sampled = [v for v in values if isinstance(v, str)]
    by_values = _values_look_like(sampled)
    if by_values is None and (births := _birth_dates(values)):
        by_values = ("pii", births)
    by_name = next(((cls, what) for pattern, cls, what in _NAMES if pattern.search(name)), None)
    if by_values and by_name:
        stronger = by_values[0] if by_values[0] == "sensitive-pii" else by_name[0]
        return Suggestion(column, stronger, f"the name looks like {by_name[1]}; {by_values[1]}")
    if by_values:
        return Suggestion(column, by_values[0], by_values[1])
    if by_name:
        return Suggestion(column, by_name[0], f"the name looks like {by_name[1]}")
    seen = f"in its name or in {len(sampled)} sampled values" if sampled else "in its name (no text values)"
    return Suggestion(column, "internal", f"no personal data seen {seen}; public only if meant")


def review_list(product: str, contract: str, drafts: Mapping[str, Suggestion]) -> str:
    """Markdown the owner works through: one line per column, nothing applied."""
    lines = [
        f"## {product}",
        "",
        f"Contract: `{contract}`. Write each decision as the column's `classification` there; "
        "`mesh check` fails until every column has one.",
        "",
        "| column | suggested | evidence |",
        "|---|---|---|",
    ]
    lines += [f"| `{s.column}` | {s.classification} | {s.evidence} |" for s in drafts.values()]
    return "\n".join(lines) + "\n"
