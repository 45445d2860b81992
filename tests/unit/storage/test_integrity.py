"""A consumer never reads bytes that do not match the manifest, whatever a file's mtime says (issue 15)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pytest

from meshwork.core import settings
from meshwork.core.errors import PortAccessError
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.ports.reader import PortReader
from meshwork.storage import port_cache, snapshots, warehouse
from tests.unit.storage.test_ports import build_orders, publish_orders


@pytest.fixture
def mesh(project: Path):
    return load_mesh(project)


def flip_in_place(file: Path, count: int = 16) -> None:
    """Flip ``count`` bytes mid-file, keeping size, inode and mtime (what `touch -d` restores)."""
    st = file.stat()
    with file.open("r+b") as f:
        f.seek(st.st_size // 2)
        chunk = f.read(count)
        f.seek(st.st_size // 2)
        f.write(bytes(b ^ 0xFF for b in chunk))
    os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = file.stat()
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (st.st_size, st.st_ino, st.st_mtime_ns)


def read(mesh) -> list[tuple]:
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect())
    return reader.relation("sales/orders").aggregate("count(*)").fetchall()


def test_a_reader_refuses_a_file_altered_in_place_with_its_mtime_restored(mesh):
    build_orders(1000)
    manifest = publish_orders(mesh).manifests[0]
    assert read(mesh) == [(1000,)]  # a good read first: nothing it remembers may vouch for later bytes
    (file,) = snapshots.snapshot_files(manifest)
    flip_in_place(file)
    with pytest.raises(PortAccessError) as exc:
        read(mesh)
    message = str(exc.value)
    assert f"sales/orders@v1 snapshot {manifest.snapshot_id} is damaged" in message
    assert f"{file} does not match its checksum" in message


def test_a_reader_refuses_a_masked_file_altered_in_place(mesh):
    with warehouse.connect("customers") as con:
        con.execute("""CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
            'Ada' AS first_name, 'Lovelace' AS last_name, 'ada' || range || '@example.com' AS email,
            '+44 1' AS phone, DATE '1815-12-10' AS birth_date, 'Square' AS street, 'London' AS city,
            'SW1Y4' AS postcode, 'GB' AS country, TIMESTAMP '2024-01-01' AS created_at FROM range(200)""")
        outcome = publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "r1")
    (manifest,) = outcome.manifests
    assert manifest.masked
    masked = snapshots.version_dir("customers", "customer_profiles", 1) / manifest.snapshot_id / manifest.masked[0].path
    reader = PortReader(mesh, mesh.product("sales/orders"), duckdb.connect())  # no PII clearance: masked files
    assert reader.resolve("customers/customer_profiles").files == [masked]
    flip_in_place(masked)
    with pytest.raises(PortAccessError, match=f"is damaged: {masked} does not match its checksum"):
        reader.resolve("customers/customer_profiles")


def test_a_tampered_cache_file_is_never_used_and_is_fetched_again():
    """The object store's cache is local disk too: a copy that no longer hashes right is evicted."""
    data = b"parquet bytes" * 1000
    sha = hashlib.sha256(data).hexdigest()
    path, problem = port_cache.fill(sha, len(data), [data])
    assert problem is None and path is not None
    assert port_cache.lookup(sha, len(data)) == path
    flip_in_place(path)
    assert port_cache.lookup(sha, len(data)) is None
    assert not path.exists(), "a damaged copy must not stay in the cache"
    assert list(settings.port_cache_dir().rglob("*.parquet")) == []
