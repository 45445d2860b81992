"""Masking of classified columns for consumers without PII clearance.

The port reader applies it: a consumer in another domain whose grant does not say ``pii: true``
reads every ``pii`` / ``sensitive-pii`` column through a masking expression, computed inside its
own DuckDB connection over the published Parquet (the clear values never reach it).

Strategies (default by classification, or per column with the ODCS custom property ``masking``):

- ``hash``: keyed SHA-256 pseudonym, 32 hex characters (same value -> same pseudonym, so joins still work; without the
  key nobody can rebuild the value). Default for ``pii``.
- ``redact``: NULL. Default for ``sensitive-pii`` of any type but DATE/TIMESTAMP.
- ``year``: a date or timestamp generalised to the first day of its year. Default for
  ``sensitive-pii`` dates.
- ``prefix:N``: the first N characters (e.g. a postcode to its district).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from meshwork.core import settings
from meshwork.core.names import quote
from meshwork.model.contracts import Column, Contract

PII = "pii"
SENSITIVE = "sensitive-pii"
_PREFIX = re.compile(r"^prefix:(\d{1,3})$")
STRATEGIES = ("hash", "redact", "year", "prefix:<n>")


def masking_key(path: Path | None = None) -> str:
    """The pseudonymisation key, created once with owner-only permissions: the mesh's own in the local
    mode; in the enforced mode the control plane passes its private one."""
    path = path or settings.mesh_home() / "governance" / "masking.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def strategy(column: Column) -> str | None:
    """The masking strategy of a column, or None when it needs none."""
    custom = next((p.value for p in column.prop.customProperties or [] if p.property == "masking"), None)
    if custom:
        return str(custom)
    classification = (column.classification or "").lower()
    if classification == PII:
        return "hash"
    if classification in (SENSITIVE, "sensitive_pii"):
        return "year" if column.physical_type.upper() in ("DATE", "TIMESTAMP") else "redact"
    return None


def is_valid_strategy(name: str) -> bool:
    return name in ("hash", "redact", "year") or bool(_PREFIX.match(name))


def expression(column: Column, key: str) -> str:
    """SQL for the masked value of ``column`` (the key is a hex string, safe to inline)."""
    c = quote(column.name)
    rule = strategy(column)
    if rule is None:
        return c
    if rule == "hash":
        assert re.fullmatch(r"[0-9a-f]+", key)
        # 128 bits of key and of pseudonym: key + a typical value fit one SHA-256 block, and the
        # pseudonym is half the bytes to write; both halve the cost of masking at publish.
        return f"CASE WHEN {c} IS NULL THEN NULL ELSE left(sha256('{key[:32]}' || CAST({c} AS VARCHAR)), 32) END"
    if rule == "year":
        return f"CAST(date_trunc('year', {c}) AS {column.physical_type})"
    if (m := _PREFIX.match(rule)) is not None:
        return f"left(CAST({c} AS VARCHAR), {int(m.group(1))})"
    return f"CAST(NULL AS {column.physical_type})"


def masked_select(contract: Contract, source_sql: str, key: str | None = None) -> str:
    key = key or masking_key()
    cols = ", ".join(f"{expression(c, key)} AS {quote(c.name)}" for c in contract.columns)
    return f"SELECT {cols} FROM {source_sql}"


def needs_masking(contract: Contract) -> bool:
    return any(strategy(c) for c in contract.columns)
