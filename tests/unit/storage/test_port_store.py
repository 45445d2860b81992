"""Choosing the port store from MESH_PORTS_URL, and the cache of verified object-store files."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from meshwork.core import settings
from meshwork.storage import port_cache, stores
from meshwork.storage.local_store import LocalPortStore


def test_ports_stay_in_mesh_home_unless_configured(mesh_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MESH_PORTS_URL", raising=False)
    store = stores.current()
    assert isinstance(store, LocalPortStore) and store.root == mesh_home / "ports"


def test_a_local_folder_or_file_url_moves_the_local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MESH_PORTS_URL", f"file://{tmp_path / 'shared'}")
    assert settings.ports_dir() == tmp_path / "shared"
    store = stores.current()
    assert isinstance(store, LocalPortStore) and store.root == tmp_path / "shared"


def test_an_s3_url_selects_the_object_store_with_its_endpoint(monkeypatch: pytest.MonkeyPatch):
    from meshwork.storage.s3_store import S3PortStore

    monkeypatch.setenv("MESH_PORTS_URL", "s3://data-mesh/prod/ports/")
    monkeypatch.setenv("MESH_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # never contacted: clients connect lazily
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    store = stores.current()
    assert isinstance(store, S3PortStore)
    assert (store.bucket, store.prefix) == ("data-mesh", "prod/ports/")
    assert store.where("sales/orders/v1/latest") == "s3://data-mesh/prod/ports/sales/orders/v1/latest"
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert stores.current() is store  # one client per configuration


def test_an_s3_url_without_a_bucket_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MESH_PORTS_URL", "s3://")
    with pytest.raises(ValueError, match="write s3://bucket"):
        stores.current()


def test_the_cache_size_is_read_with_units(monkeypatch: pytest.MonkeyPatch):
    assert settings.port_cache_bytes() == 20 * 10**9
    monkeypatch.setenv("MESH_PORT_CACHE_SIZE", "512MiB")
    assert settings.port_cache_bytes() == 512 * 2**20
    monkeypatch.setenv("MESH_PORT_CACHE_SIZE", "lots")
    with pytest.raises(ValueError, match="MESH_PORT_CACHE_SIZE"):
        settings.port_cache_bytes()


def blocks(data: bytes) -> list[bytes]:
    return [data[i : i + 7] for i in range(0, len(data), 7)]


def test_a_file_enters_the_cache_only_when_size_and_checksum_match():
    data = b"parquet bytes" * 10
    sha = hashlib.sha256(data).hexdigest()
    short = (None, f"has {len(data) - 1} bytes, the manifest says {len(data)}")
    assert port_cache.fill(sha, len(data), blocks(data[:-1])) == short
    tampered = data[:5] + b"X" + data[6:]
    assert port_cache.fill(sha, len(data), blocks(tampered)) == (None, "does not match its checksum")
    assert [p for p in settings.port_cache_dir().rglob("*") if p.is_file()] == []  # no partial file left
    assert port_cache.lookup(sha, len(data)) is None
    path, problem = port_cache.fill(sha, len(data), blocks(data))
    assert problem is None and path is not None and path.read_bytes() == data
    assert port_cache.lookup(sha, len(data)) == path
    assert port_cache.lookup(sha, len(data) + 1) is None  # a cached file of the wrong size is not used
    port_cache.forget([sha])
    assert port_cache.lookup(sha, len(data)) is None


def test_the_cache_evicts_the_least_recently_read_files_but_not_recent_ones():
    paths = []
    for i in range(3):
        data = bytes([i]) * 1000
        path, _ = port_cache.fill(hashlib.sha256(data).hexdigest(), 1000, [data])
        assert path is not None
        paths.append(path)
    hour_ago = time.time() - 2 * port_cache.MIN_AGE_SECONDS
    for age, path in enumerate(paths):  # paths[0] read longest ago
        os.utime(path, (hour_ago + age, hour_ago + age))
    assert port_cache.prune(2000) == [paths[0]]
    assert [p.exists() for p in paths] == [False, True, True]
    os.utime(paths[1])  # read just now: never evicted, even over the limit
    assert port_cache.prune(0) == [paths[2]]
    assert paths[1].exists()
