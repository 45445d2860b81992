"""A first draft of column classification for an onboarded project, for a person to review.

Onboarding cannot know what a column holds, and a wrong ``public`` leaks data, so nothing here is
written into a contract: the contract's columns stay unclassified (``mesh check`` lists each until
the owner decides) and the draft goes into a review list beside the contracts, each suggestion with
its evidence. Evidence comes from the column's name and from values sampled from the table the
project built: e-mail addresses, phone numbers, person names, birth dates, street addresses, payment
card numbers (Luhn-valid) and national identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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
    if share(_is_phone) >= _SHARE and any(not v.isdigit() for v in texts):
        return "pii", f"{len(texts)} sampled values are phone numbers"
    return None


def suggest(column: str, values: Iterable[object] = ()) -> Suggestion:
    """The draft class of ``column``, from its name and sampled ``values``, with the evidence."""
    name = column.lower()
    # Only text is evidence: a number or a date printed as text can look like a phone number.
    sampled = [v for v in values if isinstance(v, str)]
    by_values = _values_look_like(sampled)
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
