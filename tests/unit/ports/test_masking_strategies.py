"""Each masking strategy, evaluated by DuckDB on real values: the default per classification, a
column's own ``masking`` property, NULLs, and the key a mesh creates once with owner-only permissions."""

from __future__ import annotations

import hashlib
import stat
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from open_data_contract_standard.model import CustomProperty, SchemaProperty

from meshwork.core import settings
from meshwork.model.contracts import Column, Contract
from meshwork.ports import masking

KEY = "0123456789abcdef" * 4  # 64 hex characters, as masking_key() makes them


def column(name: str, physical: str, classification: str | None = None, rule: str | None = None) -> Column:
    custom = [CustomProperty(property="masking", value=rule)] if rule is not None else None
    prop = SchemaProperty(name=name, physicalType=physical, classification=classification, customProperties=custom)
    return Column(name, physical, None, None, False, False, False, classification, prop)


def masked(col: Column, value: object, key: str = KEY) -> object:
    """The masked value DuckDB computes for ``value`` in ``col``."""
    with duckdb.connect() as con:
        sql = f'SELECT {masking.expression(col, key)} FROM (SELECT CAST(? AS {col.physical_type}) AS "{col.name}")'
        row = con.execute(sql, [value]).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(
    ("classification", "physical", "expected"),
    [
        ("pii", "VARCHAR", "hash"),
        ("PII", "VARCHAR", "hash"),  # classifications are matched whatever their case
        ("sensitive-pii", "VARCHAR", "redact"),
        ("Sensitive-PII", "INTEGER", "redact"),
        ("sensitive_pii", "VARCHAR", "redact"),  # the underscore spelling too
        ("sensitive-pii", "DATE", "year"),
        ("sensitive-pii", "TIMESTAMP", "year"),
        ("sensitive-pii", "date", "year"),  # a lower-case physical type is still a date
        ("internal", "VARCHAR", None),
        ("public", "VARCHAR", None),
        (None, "VARCHAR", None),
    ],
)
def test_the_default_strategy_follows_the_classification(classification, physical, expected):
    assert masking.strategy(column("c", physical, classification)) == expected


def test_a_columns_own_masking_property_wins_over_its_classification():
    assert masking.strategy(column("postcode", "VARCHAR", "pii", rule="prefix:3")) == "prefix:3"
    assert masking.strategy(column("note", "VARCHAR", None, rule="redact")) == "redact"
    # An empty property is no choice: the classification's default applies.
    assert masking.strategy(column("email", "VARCHAR", "pii", rule="")) == "hash"
    other = column("email", "VARCHAR", "pii")
    other.prop.customProperties = [CustomProperty(property="owner", value="redact")]
    assert masking.strategy(other) == "hash", "only the property named 'masking' chooses"


@pytest.mark.parametrize("name", ["hash", "redact", "year", "prefix:0", "prefix:5", "prefix:999"])
def test_every_documented_strategy_is_valid(name):
    assert masking.is_valid_strategy(name)


@pytest.mark.parametrize("name", ["", "HASH", "prefix:", "prefix:1000", "prefix:-1", "prefix:3 ", "xprefix:3", "sha1"])
def test_an_unknown_strategy_is_not_valid(name):
    assert not masking.is_valid_strategy(name)


def test_hash_is_the_keyed_pseudonym_of_the_value_and_null_stays_null():
    col = column("email", "VARCHAR", "pii")
    pseudonym = masked(col, "ada@example.com")
    assert pseudonym == hashlib.sha256((KEY[:32] + "ada@example.com").encode()).hexdigest()[:32]
    assert masked(col, None) is None
    # A number is hashed through its text, so the same id gives the same pseudonym in any column type.
    number = column("customer_id", "BIGINT", "pii")
    assert masked(number, 42) == hashlib.sha256((KEY[:32] + "42").encode()).hexdigest()[:32]


def test_hash_refuses_a_key_that_is_not_hex():
    with pytest.raises(AssertionError):
        masking.expression(column("email", "VARCHAR", "pii"), "not-hex'; DROP TABLE x; --")


def test_year_keeps_the_first_day_of_the_year_in_the_columns_type():
    assert masked(column("birth_date", "DATE", "sensitive-pii"), date(1815, 12, 10)) == date(1815, 1, 1)
    seen = masked(column("seen_at", "TIMESTAMP", "sensitive-pii"), datetime(2024, 7, 3, 14, 5))
    assert seen == datetime(2024, 1, 1)


def test_prefix_keeps_the_first_characters_only():
    assert masked(column("postcode", "VARCHAR", "pii", rule="prefix:3"), "SW1Y4") == "SW1"
    assert masked(column("postcode", "VARCHAR", "pii", rule="prefix:12"), "SW1Y4") == "SW1Y4"


def test_redact_gives_a_typed_null():
    assert masked(column("salary", "INTEGER", "sensitive-pii"), 50000) is None
    salary = masking.expression(column("salary", "INTEGER", "sensitive-pii"), KEY)
    with duckdb.connect() as con:
        sql = f"SELECT {salary} FROM (SELECT 1 AS salary)"
        assert con.execute(f"DESCRIBE {sql}").fetchall()[0][1] == "INTEGER"


def test_an_unclassified_column_passes_through_unchanged():
    assert masked(column("city", "VARCHAR", "internal"), "London") == "London"


def test_masked_select_masks_each_column_under_its_name_in_contract_order(tmp_path: Path):
    cols = (column("customer_id", "BIGINT", "internal"), column("email", "VARCHAR", "pii"))
    contract = Contract(tmp_path / "c.odcs.yaml", None, cols)
    assert masking.needs_masking(contract)
    assert not masking.needs_masking(Contract(tmp_path / "c.odcs.yaml", None, cols[:1]))
    with duckdb.connect() as con:
        source = "(SELECT 'ada@example.com' AS email, 7 AS customer_id)"
        rel = con.sql(masking.masked_select(contract, source, KEY))
        assert rel.columns == ["customer_id", "email"]
        assert rel.fetchall() == [(7, hashlib.sha256((KEY[:32] + "ada@example.com").encode()).hexdigest()[:32])]
        # Without a key given, the mesh's own key is used.
        mesh_key = masking.masking_key()
        rel = con.sql(masking.masked_select(contract, source))
        assert rel.fetchall()[0][1] == hashlib.sha256((mesh_key[:32] + "ada@example.com").encode()).hexdigest()[:32]


def test_the_mesh_key_is_created_once_secret_and_owner_only():
    path = settings.mesh_home() / "governance" / "masking.key"
    assert not path.exists()
    key = masking.masking_key()
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and int(key, 16) >= 0  # 32 random bytes, hex
    assert path.read_text() == key
    assert masking.masking_key() == key, "the same key on every call: pseudonyms stay stable"


def test_a_key_file_given_by_path_is_read_stripped_and_never_replaced(tmp_path: Path):
    given = tmp_path / "control-plane" / "secrets" / "masking.key"  # folders that do not exist yet
    created = masking.masking_key(given)
    assert given.read_text() == created and len(created) == 64
    beside = given.with_name("other.key")  # a folder that exists already
    assert masking.masking_key(beside) != created, "each key file holds its own random key"
    given.write_text("ab" * 32 + "\n")  # the control plane's own key, with a final newline
    assert masking.masking_key(given) == "ab" * 32
    assert not (settings.mesh_home() / "governance" / "masking.key").exists(), "the mesh's default key is untouched"
