"""The port store this process uses, from ``MESH_PORTS_URL``: a local folder (default) or S3-compatible storage."""

from __future__ import annotations

import threading
from pathlib import Path

from meshwork.core import settings
from meshwork.storage.local_store import LocalPortStore
from meshwork.storage.port_store import PortStore

_stores: dict[tuple, PortStore] = {}
_lock = threading.Lock()


def current() -> PortStore:
    """The store ``MESH_PORTS_URL`` names (settings are read on every call; clients are reused)."""
    url = settings.ports_url()
    if not url.startswith("s3://"):
        return LocalPortStore(Path(url))
    config = (url, settings.s3_endpoint_url(), settings.s3_region())
    with _lock:  # one client per configuration: creating boto3 clients is slow and not thread-safe
        store = _stores.get(config)
        if store is None:
            # Deferred: boto3 takes ~0.5 s to import and only object-store meshes need it.
            from meshwork.storage.s3_store import S3PortStore

            store = _stores[config] = S3PortStore(*config)
    return store
