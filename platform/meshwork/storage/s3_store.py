"""Output ports on S3-compatible object storage (AWS S3, MinIO, Ceph, R2…), through boto3.

S3 has no rename, so a snapshot cannot appear all at once the way a local folder does. Instead a
publish uploads every data file under the snapshot's final key prefix, then the manifest (the
snapshot is *complete* once it exists), and only then replaces the ``latest`` object. A single PUT is
atomic on S3 — a GET returns the whole old object or the whole new one — so ``latest`` is the
switch: readers start from it, never from a listing, and a snapshot no pointer named was never seen.
A publish that dies midway leaves ``latest`` on the previous snapshot and, at worst, a prefix
without a manifest, which retention removes once it is an hour old.

Readers fetch files into :mod:`meshwork.storage.port_cache`, verifying each one's sha256 as it streams.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from meshwork.core import settings
from meshwork.storage import port_cache
from meshwork.storage.port_store import MANIFEST, TMP_PREFIX, FileEntry, PortStore

_MISSING = {"NoSuchKey", "404", "NotFound"}
_BLOCK = 1 << 20
# Multipart uploads stream from disk; memory stays near concurrency × chunk size (32 MiB).
_TRANSFER = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=8 << 20, max_concurrency=4)


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING


class S3PortStore(PortStore):
    def __init__(self, url: str, endpoint_url: str | None = None, region: str | None = None):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"MESH_PORTS_URL={url!r}: write s3://bucket or s3://bucket/prefix")
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        session = boto3.session.Session()
        config: dict[str, Any] = {"retries": {"max_attempts": 5, "mode": "standard"}}
        if endpoint_url:
            # Non-AWS stores commonly need path-style addressing and choke on the newer default
            # CRC checksum headers; every file is verified by its sha256 on read anyway.
            config.update(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
        self.client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or session.region_name or "us-east-1",
            config=Config(**config),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def read_text(self, key: str) -> str | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        with contextlib.closing(response["Body"]) as body:
            return body.read().decode("utf-8")

    def write_text(self, key: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=text.encode("utf-8"))

    def put_file(self, key: str, source: Path) -> None:
        # A multipart upload, too, becomes visible only when it completes: all or nothing.
        self.client.upload_file(str(source), self.bucket, self._key(key), Config=_TRANSFER)
        source.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        for page in pages:
            yield from page.get("Contents", [])

    def children(self, prefix: str) -> list[str]:
        base = self._key(prefix).rstrip("/") + "/"
        names: set[str] = set()
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base, Delimiter="/")
        for page in pages:
            names.update(p["Prefix"][len(base) :].rstrip("/") for p in page.get("CommonPrefixes", []))
            names.update(o["Key"][len(base) :] for o in page.get("Contents", []))
        return sorted(names)

    def _by_snapshot(self, version: str) -> dict[str, list[dict[str, Any]]]:
        """Objects under a port version grouped by their first path part (``latest`` is left out)."""
        base = self._key(version) + "/"
        groups: dict[str, list[dict[str, Any]]] = {}
        for obj in self._objects(version + "/"):
            first, sep, _ = obj["Key"][len(base) :].partition("/")
            if sep:
                groups.setdefault(first, []).append(obj)
        return groups

    def snapshot_ids(self, version: str) -> list[str]:
        # One listing, not a request per snapshot. Readers never rely on it: they start from `latest`.
        base = self._key(version) + "/"
        ids = []
        for snapshot, objects in self._by_snapshot(version).items():
            if not snapshot.startswith(".") and any(o["Key"] == f"{base}{snapshot}/{MANIFEST}" for o in objects):
                ids.append(snapshot)
        return sorted(ids)

    def _staging_root(self, version: str) -> Path:
        return settings.mesh_home() / "tmp" / "ports" / version

    def staging(self, version: str, snapshot_id: str) -> Path:
        root = self._staging_root(version)
        root.mkdir(parents=True, exist_ok=True)
        return root / f"{TMP_PREFIX}{snapshot_id}"

    def commit(self, staging: Path, version: str, snapshot_id: str) -> None:
        files = sorted(staging.iterdir(), key=lambda f: (f.name == MANIFEST, f.name))  # the manifest last
        for f in files:
            self.put_file(f"{version}/{snapshot_id}/{f.name}", f)
        shutil.rmtree(staging, ignore_errors=True)

    def discard(self, staging: Path, version: str, snapshot_id: str) -> None:
        shutil.rmtree(staging, ignore_errors=True)
        # The store may be why the publish failed: what cannot be deleted now, retention deletes later.
        with contextlib.suppress(Exception):
            self.delete_snapshot(version, snapshot_id)

    def scratch(self, key: str) -> Path:
        path = settings.mesh_home() / "tmp" / "ports" / f"{key}.{uuid.uuid4().hex[:8]}.tmp"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def delete_snapshot(self, version: str, snapshot_id: str) -> None:
        prefix = f"{version}/{snapshot_id}/"
        self.delete(prefix + MANIFEST)  # first: from here on the snapshot is incomplete, never used
        keys = [{"Key": o["Key"]} for o in self._objects(prefix)]
        for i in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[i : i + 1000], "Quiet": True})

    def remove_orphans(self, version: str, older_than: timedelta) -> list[str]:
        """Prefixes without a manifest whose newest object is older than ``older_than``; local staging too."""
        cutoff = datetime.now(UTC) - older_than
        removed = []
        base = self._key(version) + "/"
        for snapshot, objects in self._by_snapshot(version).items():
            complete = any(o["Key"] == f"{base}{snapshot}/{MANIFEST}" for o in objects)
            if not complete and max(o["LastModified"] for o in objects) < cutoff:
                self.delete_snapshot(version, snapshot)
                removed.append(snapshot)
        staging = self._staging_root(version)
        for stale in staging.glob(f"{TMP_PREFIX}*") if staging.is_dir() else []:
            if datetime.fromtimestamp(stale.stat().st_mtime, UTC) < cutoff:
                shutil.rmtree(stale, ignore_errors=True)
        return removed

    def _get(self, key: str) -> dict[str, Any] | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def _wrong_size(self, key: str, size: int, entry: FileEntry) -> str:
        return f"{self.where(key)} has {size} bytes, the manifest says {entry.bytes}"

    def problem(self, key: str, entry: FileEntry, checksum: bool) -> str | None:
        if not checksum:
            try:
                size = self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
            except ClientError as exc:
                if _missing(exc):
                    return f"{self.where(key)} is missing"
                raise
            return None if size == entry.bytes else self._wrong_size(key, size, entry)
        response = self._get(key)
        if response is None:
            return f"{self.where(key)} is missing"
        with contextlib.closing(response["Body"]) as body:
            if response["ContentLength"] != entry.bytes:
                return self._wrong_size(key, response["ContentLength"], entry)
            digest = hashlib.sha256()
            for block in body.iter_chunks(_BLOCK):
                digest.update(block)
        return None if digest.hexdigest() == entry.sha256 else f"{self.where(key)} does not match its checksum"

    def readable(self, key: str, entry: FileEntry) -> tuple[Path | None, str | None]:
        suffix = PurePosixPath(entry.path).suffix
        cached = port_cache.lookup(entry.sha256, entry.bytes, suffix)
        if cached is not None:  # named by its checksum, written only after it matched
            return cached, None
        response = self._get(key)
        if response is None:
            return None, f"{self.where(key)} is missing"
        with contextlib.closing(response["Body"]) as body:
            if response["ContentLength"] != entry.bytes:  # truncated or replaced: no need to download it
                return None, self._wrong_size(key, response["ContentLength"], entry)
            path, problem = port_cache.fill(entry.sha256, entry.bytes, body.iter_chunks(_BLOCK), suffix)
        return path, f"{self.where(key)} {problem}" if problem else None
