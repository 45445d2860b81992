"""Who a data subject is, in the forms erasure looks for: the rows that are theirs and the values that name them.

The subject's own record in the owning product gives its personal values (the columns the contract
classifies as PII). A value of at least :data:`DISTINCT` characters that no other record of the owner
holds, not even inside a longer value (an e-mail, a phone number, most streets here), is
*distinctive*: it is searched for and redacted anywhere, even in free text. A shorter or shared one (a
first name, a postcode, a city) is matched only beside its column name, as in a failure sample,
because a bare ``Ben`` or ``50819`` is not the subject.

The clear subject never goes into the audit log or a certificate: they keep an HMAC-SHA256 of
``<key>=<value>`` with a salt kept in ``$MESH_HOME/governance/erasure.salt`` (mode 0600, created by
the first erasure). Identifiers such as ``customer_id=42`` are few enough to hash one by one, so
without the salt the hash would name the subject; with it, an operator can still confirm that a given
subject was erased (:func:`subject_hash` of the same text).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import date, datetime
from typing import Any

import duckdb

from meshwork.core import settings
from meshwork.core.names import quote
from meshwork.model.classification import is_pii
from meshwork.model.mesh import Product
from meshwork.storage.scrub import Terms
from meshwork.storage.scrub_tables import Rows

DISTINCT = 6


def salt_path():
    return settings.mesh_home() / "governance" / "erasure.salt"


def _salt() -> bytes:
    path = salt_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def subject_hash(subject: str) -> str:
    """The salted hash that stands for the subject in the audit log and the certificate."""
    return "hmac-sha256:" + hmac.new(_salt(), subject.encode("utf-8"), hashlib.sha256).hexdigest()


def as_text(value: Any) -> str:
    """A value as DuckDB renders it as VARCHAR (dates as ISO text)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class Subject:
    """The rows that are the subject's (by column) and the terms that name them in bytes."""

    def __init__(self, key: str, value: Any):
        self.rows: Rows = {}
        self.terms = Terms()
        self.shared: set[str] = set()  # PII columns whose value other subjects share (matched by column only)
        self.add_identifier(key, value)

    def add_identifier(self, column: str, value: Any) -> None:
        """A value whose rows are the subject's: a key, a linked key, an erased row's primary key."""
        text = as_text(value)
        self.rows.setdefault(column, set()).add(text)
        self.terms.add_keyed(column, text)
        if isinstance(value, str) and len(value) >= DISTINCT:
            self.terms.add_value(column, value)

    def add_personal(self, owner: Product, key: str, typed: Any, wcon: duckdb.DuckDBPyConnection) -> None:
        """The PII values of the subject's record(s) in the owner's warehouse table."""
        table = quote(owner.descriptor.implementation.model or owner.name)
        cur = wcon.execute(f"SELECT * FROM {table} WHERE {quote(key)} = ?", [typed])
        names = [d[0] for d in cur.description]
        contract = owner.current_port.contract
        for record in cur.fetchall():
            for name, value in zip(names, record, strict=True):
                column = contract.column(name)
                if value is None or column is None or not is_pii(column):
                    continue
                text = as_text(value)
                self.terms.add_keyed(name, text)
                if column.unique or column.primary_key:
                    self.rows.setdefault(name, set()).add(text)
                # Searched for anywhere as a substring (bytes have no word boundaries: strings are packed
                # side by side in a page), it must name this subject only: no other record may hold it,
                # even inside a longer value ('1 Market Street' is in '41 Market Street').
                others = wcon.execute(
                    f"SELECT count(*) FROM {table} t "
                    f"WHERE contains(lower(CAST(t AS VARCHAR)), lower(?)) AND {quote(key)} IS DISTINCT FROM ?",
                    [text, typed],
                ).fetchall()[0][0]
                if len(text) < DISTINCT or others:
                    self.shared.add(name)
                    continue
                self.terms.add_value(name, text)
                if not isinstance(value, str):  # how Python prints it, e.g. in a logged row
                    self.terms.add_value(name, repr(value))
