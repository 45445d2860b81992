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
from abc import ABC, abstractmethod
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from meshwork.core.errors import MeshError

MANIFEST = "_manifest.json"
TMP_PREFIX = ".tmp-"


class FileEntry(BaseModel):
    """One data file of a snapshot, as its manifest lists it."""

    path: str
    bytes: int
    sha256: str


class Damaged(MeshError, ValueError):
    """A ``latest`` pointer or a manifest that cannot be what it claims; the message names the file."""


def sql_path(path: Path) -> str:
    """A local path as a SQL string literal for DuckDB (``COPY … TO``, ``read_parquet``): a folder may hold a quote."""
    return "'" + str(path).replace("'", "''") + "'"


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

        The checksum is verified on every read: nothing a file's metadata says can vouch for its bytes.
        """
