"""The classification vocabulary: which column classes count as personal data, and what PII looks like.

Contracts classify columns (ODCS ``classification``); the validator redacts PII from failure samples,
policies require retention and forbid public ports for it, masking pseudonymises it for consumers
without clearance, and scaffolding proposes it. They all ask here.
"""

from __future__ import annotations

from typing import Protocol

PII_CLASSES = frozenset({"pii", "sensitive-pii", "sensitive_pii", "personal", "confidential-pii"})

# E-mail addresses and international phone numbers: the `noPii` rule looks for them in columns that
# are not classified as PII.
PII_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\+[0-9][0-9 ().-]{7,}[0-9]"


class Classified(Protocol):
    @property
    def classification(self) -> str | None: ...


def is_pii(column: Classified) -> bool:
    return (column.classification or "").lower() in PII_CLASSES
