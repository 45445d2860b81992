"""A local cache of verified port files fetched from object storage, named by their sha256.

DuckDB reads a port from here, not from the object store: the consumer's warehouse views (which dbt
queries from another process) need files any process can open, the bytes DuckDB reads are exactly
the bytes whose checksum was verified, and a snapshot that retention deletes from the store stays
readable to a reader that already resolved it. Files are streamed in blocks while they are hashed,
so memory stays flat whatever their size; a file enters the cache only after its checksum matched,
and is hashed again on every lookup.
Everything here can be deleted at any time (``$MESH_HOME/cache/ports``).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from meshwork.core import settings
from meshwork.storage.port_store import sha256_file

# Files read in the last hour are never evicted: a view or a running query may still point at them.
MIN_AGE_SECONDS = 3600


def path_for(sha256: str, suffix: str = ".parquet") -> Path:
    return settings.port_cache_dir() / sha256[:2] / f"{sha256}{suffix}"


def lookup(sha256: str, size: int, suffix: str = ".parquet") -> Path | None:
    """The cached file, if present and still hashing to ``sha256``; its mtime records the read for eviction.

    Hashed on every lookup, like a file of the local store: the cache is a folder anyone with the
    mesh's account can write. A copy that no longer matches is evicted, so the caller fetches it again.
    """
    path = path_for(sha256, suffix)
    try:
        if path.stat().st_size != size:
            return None
        if sha256_file(path) != sha256:
            path.unlink(missing_ok=True)
            return None
        os.utime(path)
    except FileNotFoundError:
        return None
    return path


def fill(sha256: str, size: int, blocks: Iterable[bytes], suffix: str = ".parquet") -> tuple[Path | None, str | None]:
    """Write ``blocks`` into the cache if they hash to ``sha256``; the path, or what did not match."""
    path = path_for(sha256, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{uuid.uuid4().hex}.part"
    digest, written = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            for block in blocks:
                digest.update(block)
                written += len(block)
                out.write(block)
        if written != size:
            return None, f"has {written} bytes, the manifest says {size}"
        if digest.hexdigest() != sha256:
            return None, "does not match its checksum"
        os.replace(tmp, path)  # concurrent fills of one file write the same bytes: last one wins
    finally:
        tmp.unlink(missing_ok=True)
    prune(settings.port_cache_bytes())
    return path, None


def forget(checksums: Iterable[str]) -> None:
    """Evict files now (erasure: an erased subject's rows must not survive in a cache)."""
    for sha256 in checksums:
        folder = settings.port_cache_dir() / sha256[:2]
        for cached in folder.glob(f"{sha256}*") if folder.is_dir() else []:
            cached.unlink(missing_ok=True)


def prune(max_bytes: int, min_age: float = MIN_AGE_SECONDS) -> list[Path]:
    """Evict the least recently read files until the cache fits in ``max_bytes``."""
    root = settings.port_cache_dir()
    if not root.is_dir():
        return []
    entries = []
    for folder in root.iterdir():
        for f in folder.iterdir() if folder.is_dir() else []:
            if not f.name.startswith("."):
                try:
                    st = f.stat()
                except FileNotFoundError:  # evicted by another process meanwhile
                    continue
                entries.append((st.st_mtime, st.st_size, f))
    total = sum(size for _, size, _ in entries)
    removed = []
    now = time.time()
    for mtime, size, f in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        if now - mtime < min_age:
            break  # everything after this was read even more recently
        f.unlink(missing_ok=True)
        total -= size
        removed.append(f)
    return removed
