"""Consumers without PII clearance read masked ports: no clear PII, joins still work."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from meshwork.core import audit
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.ports.reader import PortReader
from meshwork.storage import warehouse

CLEAR = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+44 1",
    "street": "12 St James's Square",
    "postcode": "SW1Y4",
    "birth_date": "1815-12-10",
}


@pytest.fixture
def mesh(project: Path):
    mesh = load_mesh(project)
    with warehouse.connect("customers") as con:
        con.execute("""CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
            'Ada' AS first_name, 'Lovelace' AS last_name, 'ada' || range || '@example.com' AS email,
            '+44 1' AS phone, DATE '1815-12-10' AS birth_date, '12 St James''s Square' AS street, 'London' AS city,
            'SW1Y4' AS postcode, 'GB' AS country, TIMESTAMP '2024-01-01' AS created_at FROM range(20)""")
        publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "r1")
    return mesh


def read(mesh, consumer: str):
    con = duckdb.connect()
    rel = PortReader(mesh, mesh.product(consumer), con).relation("customers/customer_profiles")
    return rel.columns, rel.fetchall()


def test_a_consumer_without_pii_clearance_sees_no_clear_pii(mesh):
    # sales/orders holds a grant without `pii: true` (it only checks customer ids).
    columns, rows = read(mesh, "sales/orders")
    assert len(rows) == 20
    text = " ".join(str(v) for row in rows for v in row)
    for value in ("Ada", "Lovelace", "@example.com", "+44 1", "St James", "SW1Y4", "1815-12-10"):
        assert value not in text, value
    row = dict(zip(columns, rows[0], strict=True))
    assert row["customer_id"] == 0 and row["city"] == "London" and row["country"] == "GB"  # not PII: clear
    assert str(row["birth_date"]) == "1815-01-01"  # sensitive date generalised to its year
    assert len(row["email"]) == 32  # a pseudonym (keyed: see the test below)
    assert audit.entries("port.read")[-1]["masked"] is True


def test_pseudonyms_are_stable_so_joins_still_work(mesh):
    _, first = read(mesh, "sales/orders")
    _, second = read(mesh, "sales/orders")
    assert first == second
    emails = [r[3] for r in first]
    assert len(set(emails)) == 20  # distinct inputs stay distinct


def test_a_consumer_whose_grant_clears_pii_reads_clear_values(mesh):
    columns, rows = read(mesh, "marketing/customer_360")
    row = dict(zip(columns, rows[0], strict=True))
    assert row["email"] == "ada0@example.com" and row["first_name"] == "Ada"
    assert audit.entries("port.read")[-1]["masked"] is False


def test_masking_happens_at_publish_so_the_uncleared_consumer_is_handed_masked_files_only(mesh):
    from meshwork.storage import snapshots

    manifest = snapshots.read_manifest("customers", "customer_profiles", 1, _latest())
    assert manifest.masked, "a port with classified columns is published with a masked variant"
    con = duckdb.connect()
    resolved = PortReader(mesh, mesh.product("sales/orders"), con).resolve("customers/customer_profiles")
    assert resolved.masked and resolved.masked_with is None  # nothing left for the consumer to apply
    assert {f.name for f in resolved.files} == {e.path for e in manifest.masked}
    # The bytes themselves hold no clear value, whatever SQL the consumer runs over them.
    raw = con.sql(f"SELECT * FROM read_parquet({snapshots.sql_file_list(resolved.files)})").fetchall()
    text = " ".join(str(v) for row in raw for v in row)
    assert "Ada" not in text and "@example.com" not in text and "1815-12-10" not in text
    cleared = PortReader(mesh, mesh.product("marketing/customer_360"), con).resolve("customers/customer_profiles")
    assert not cleared.masked and {f.name for f in cleared.files} == {e.path for e in manifest.files}


def test_an_erasure_rewrite_drops_the_masked_variant_and_readers_mask_the_rest(mesh):
    from meshwork.storage import snapshots

    manifest = snapshots.read_manifest("customers", "customer_profiles", 1, _latest())
    with duckdb.connect() as con:
        assert snapshots.delete_rows(con, manifest, "customer_id = ?", [3]) == 1
    rewritten = snapshots.read_manifest("customers", "customer_profiles", 1, _latest())
    assert rewritten.masked is None and rewritten.row_count == 19
    columns, rows = read(mesh, "sales/orders")
    assert len(rows) == 19 and "Ada" not in " ".join(str(v) for r in rows for v in r)


def _latest() -> str:
    from meshwork.storage import snapshots

    latest = snapshots.latest_snapshot("customers", "customer_profiles", 1)
    assert latest
    return latest


def test_the_pseudonym_is_keyed_by_the_meshs_secret_key(mesh):
    import hashlib

    from meshwork.ports import masking

    columns, rows = read(mesh, "sales/orders")
    email = dict(zip(columns, rows[0], strict=True))["email"]
    clear = "ada0@example.com"
    key = masking.masking_key()
    # Not an unkeyed hash of the value (anyone could rebuild it from a list of e-mails) …
    assert email not in {hashlib.sha256(clear.encode()).hexdigest()[:32], hashlib.md5(clear.encode()).hexdigest()}
    # … but the hash under this mesh's key, which nobody outside the platform holds.
    assert email == hashlib.sha256((key[:32] + clear).encode()).hexdigest()[:32]
    with duckdb.connect() as con:
        other_key = "0" * 64
        column = next(
            c for c in mesh.product("customers/customer_profiles").current_port.contract.columns if c.name == "email"
        )
        under_other = con.execute(
            f"SELECT {masking.expression(column, other_key)} FROM (SELECT ? AS email)", [clear]
        ).fetchone()
    assert under_other and under_other[0] != email  # another key, another pseudonym: the key matters
