"""Where output port snapshots are stored: a local folder (the default) or S3-compatible object storage.

:mod:`meshwork.storage.snapshots` owns the layout and the publish protocol; a store only moves bytes. Keys are
POSIX paths relative to the store's root, exactly the local layout::

    <domain>/<product>/v<major>/<snapshot-id>/<file>      <domain>/<product>/v<major>/latest

A publish is staged in a local folder that DuckDB writes into, then :meth:`PortStore.commit` makes
it a complete snapshot under its final key (the local store renames the folder; the object store
uploads every file, the manifest last). ``latest`` is written after that with one atomic
:meth:`PortStore.write_text`, so a snapshot is visible only once it is complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from meshwork.core import settings

if TYPE_CHECKING:
    from meshwork.storage.snapshots import FileEntry

MANIFEST = "_manifest.json"
TMP_PREFIX = ".tmp-"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PortStore(ABC):
    """The storage operations the port protocol needs; each is atomic where the protocol relies on it."""

    url: str

    @abstractmethod
    def where(self, key: str) -> str:
        """The path or URL of ``key``, for messages."""

    @abstractmethod
    def read_text(self, key: str) -> str | None:
        """The object's text, or None when there is none."""

    @abstractmethod
    def write_text(self, key: str, text: str) -> None:
        """Create or replace ``key`` atomically: a reader sees the old text or the new, never a mix."""

    @abstractmethod
    def put_file(self, key: str, source: Path) -> None:
        """Store the local file ``source`` at ``key`` (atomically), consuming ``source``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete one object or file; deleting a missing one is no error."""

    @abstractmethod
    def children(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (folders, or common key prefixes)."""

    @abstractmethod
    def snapshot_ids(self, version: str) -> list[str]:
        """Ids of the complete snapshots (those with a manifest) of a port version, in id order."""

    @abstractmethod
    def staging(self, version: str, snapshot_id: str) -> Path:
        """A local path, not yet existing, for DuckDB to write a new snapshot's files into."""

    @abstractmethod
    def commit(self, staging: Path, version: str, snapshot_id: str) -> None:
        """Make the staged files the snapshot ``version/snapshot_id``; its manifest becomes visible last."""

    @abstractmethod
    def discard(self, staging: Path, version: str, snapshot_id: str) -> None:
        """Undo a publish that failed before it completed (best effort: retention collects the rest)."""

    @abstractmethod
    def scratch(self, key: str) -> Path:
        """A local path for writing a file that :meth:`put_file` will store at ``key``."""

    @abstractmethod
    def delete_snapshot(self, version: str, snapshot_id: str) -> None:
        """Delete a whole snapshot, its manifest first, so a partly deleted snapshot is never complete."""

    @abstractmethod
    def remove_orphans(self, version: str, older_than: timedelta) -> list[str]:
        """Delete leftovers of publishes that died (no manifest) older than ``older_than``."""

    @abstractmethod
    def problem(self, key: str, entry: FileEntry, checksum: bool) -> str | None:
        """What is wrong with the stored file (missing, wrong size, wrong checksum), or None."""

    @abstractmethod
    def readable(self, key: str, entry: FileEntry) -> tuple[Path | None, str | None]:
        """A local file DuckDB can read holding exactly the manifest's bytes, or the problem why not.

        The checksum is verified once per file, not once per read.
        """


class LocalPortStore(PortStore):
    """Snapshots as folders under a local (or network-mounted) directory; rename makes them visible."""

    def __init__(self, root: Path):
        self.root = root
        self.url = str(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def where(self, key: str) -> str:
        return str(self.path(key))

    def read_text(self, key: str) -> str | None:
        try:
            return self.path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write_text(self, key: str, text: str) -> None:
        target = self.path(key)
        tmp = target.parent / f"{TMP_PREFIX}{target.name}-{uuid.uuid4().hex}"
        tmp.write_text(text, encoding="utf-8")
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)

    def put_file(self, key: str, source: Path) -> None:
        _fsync(source)
        os.replace(source, self.path(key))

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def children(self, prefix: str) -> list[str]:
        folder = self.path(prefix)
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def snapshot_ids(self, version: str) -> list[str]:
        root = self.path(version)
        if not root.is_dir():
            return []
        return sorted(
            p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file()
        )

    def staging(self, version: str, snapshot_id: str) -> Path:
        # Beside its final place, so that the rename making it visible never crosses a filesystem.
        root = self.path(version)
        root.mkdir(parents=True, exist_ok=True)
        return root / f"{TMP_PREFIX}{snapshot_id}"

    def commit(self, staging: Path, version: str, snapshot_id: str) -> None:
        for f in staging.iterdir():
            _fsync(f)
        os.rename(staging, self.path(version) / snapshot_id)
        _fsync(self.path(version))

    def discard(self, staging: Path, version: str, snapshot_id: str) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def scratch(self, key: str) -> Path:
        target = self.path(key)
        return target.parent / f".{target.name}.tmp"

    def delete_snapshot(self, version: str, snapshot_id: str) -> None:
        folder = self.path(version) / snapshot_id
        (folder / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    def remove_orphans(self, version: str, older_than: timedelta) -> list[str]:
        removed = []
        now = datetime.now().timestamp()
        for stale in self.path(version).glob(f"{TMP_PREFIX}*"):
            # Only old folders: a concurrent publish of the same port may still be writing.
            if stale.is_dir() and now - stale.stat().st_mtime > older_than.total_seconds():
                shutil.rmtree(stale, ignore_errors=True)
                removed.append(stale.name)
        return removed

    def problem(self, key: str, entry: FileEntry, checksum: bool) -> str | None:
        file = self.path(key)
        if not file.is_file():
            return f"{file} is missing"
        if file.stat().st_size != entry.bytes:
            return f"{file} has {file.stat().st_size} bytes, the manifest says {entry.bytes}"
        if checksum and sha256_file(file) != entry.sha256:
            return f"{file} does not match its checksum"
        return None

    def readable(self, key: str, entry: FileEntry) -> tuple[Path | None, str | None]:
        """The file in place; a marker keyed by path, size, mtime and inode remembers it matched.

        A file rewritten or replaced after it was checked is checked again. Ports are immutable, so
        in steady state a read costs one stat per file.
        """
        if problem := self.problem(key, entry, checksum=False):
            return None, problem
        file = self.path(key)
        marker = _verified_marker(file)
        if not marker.exists():
            if sha256_file(file) != entry.sha256:
                return None, f"{file} does not match its checksum"
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        return file, None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _verified_marker(file: Path) -> Path:
    st = file.stat()
    tag = hashlib.sha256(f"{file.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}".encode()).hexdigest()
    return settings.cache_dir() / "verified" / tag[:2] / tag


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
            from meshwork.storage.s3_store import S3PortStore  # boto3 is imported only when it is used

            store = _stores[config] = S3PortStore(*config)
    return store
