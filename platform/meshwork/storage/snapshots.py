"""Output ports: immutable, versioned Parquet snapshots that are the only way data leaves a domain.

Layout in the port store (``$MESH_HOME/ports`` by default, or ``MESH_PORTS_URL=s3://bucket/prefix``)::

    <domain>/<product>/v<major>/<snapshot-id>/data_0.parquet …
    <domain>/<product>/v<major>/<snapshot-id>/_manifest.json
    <domain>/<product>/v<major>/latest          (holds the id of the current snapshot)

A snapshot is staged locally, checksummed, then committed to its final place: the local store
renames a hidden ``.tmp-<id>`` folder in one step; object storage, which has no rename, uploads every
data file first and the manifest last. Only then is ``latest`` replaced, atomically (a rename, or a
single PUT). A reader follows ``latest`` to a manifest and checks each file's sha256 before use, so
it sees the old snapshot or the new one, never a mix, and a publish that dies midway leaves
``latest`` where it was. See :mod:`meshwork.storage.port_store`.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from pydantic import BaseModel, ValidationError

from meshwork.core import settings
from meshwork.core.errors import PublishError
from meshwork.core.names import check_identifier, quote
from meshwork.storage import contract_copy, masked_variant, port_cache, port_store, stores
from meshwork.storage.local_store import LocalPortStore
from meshwork.storage.port_store import Damaged, FileEntry

MANIFEST = port_store.MANIFEST
CONTRACT = "_contract.odcs.yaml"
LATEST = "latest"
TMP_PREFIX = port_store.TMP_PREFIX
_SNAPSHOT_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]*\Z")  # \Z: $ would let a final newline through


class ColumnEntry(BaseModel):
    name: str
    type: str


class Manifest(BaseModel):
    domain: str
    product: str
    version: str
    snapshot_id: str
    contract_id: str
    contract_version: str
    columns: list[ColumnEntry]
    row_count: int
    files: list[FileEntry]
    # The masked variant (classified columns masked at publish), what consumers without clearance get.
    masked: list[FileEntry] | None = None
    run_id: str | None
    built_by_run: str | None = None
    created_at: datetime
    environment: str


def version_key(domain: str, product: str, major: int) -> str:
    """The store key of a port version's folder: ``<domain>/<product>/v<major>``."""
    return f"{check_identifier(domain)}/{check_identifier(product)}/v{int(major)}"


def version_dir(domain: str, product: str, major: int) -> Path:
    """The folder of a port version in the local store (what the default configuration uses)."""
    return settings.ports_dir() / version_key(domain, product, major)


def _version(root: Path | str) -> str:
    """A version key from a key or from a local version folder (the older, path-based calls)."""
    return root if isinstance(root, str) else root.relative_to(settings.ports_dir()).as_posix()


def check_snapshot_id(snapshot_id: str) -> str:
    # Ids come from `latest`, a file anyone with write access to the store can edit: no paths.
    if not _SNAPSHOT_ID.match(snapshot_id):
        raise Damaged(f"'{snapshot_id}' is not a snapshot id")
    return snapshot_id


def _sha256(path: Path) -> str:
    return port_store.sha256_file(path)


def new_snapshot_id(run_id: str | None) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{(run_id or uuid.uuid4().hex)[:8]}"


def write_snapshot(
    con: duckdb.DuckDBPyConnection,
    *,
    domain: str,
    product: str,
    major: int,
    table: str,
    columns: list[str],
    contract_id: str,
    contract_version: str,
    run_id: str | None,
    built_by_run: str | None = None,
    contract_text: str | None = None,
    masked_query: str | None = None,
    commit_latest: Callable[[str, str], None] | None = None,
) -> Manifest:
    """Publish ``columns`` of warehouse ``table`` as a new snapshot and point ``latest`` at it.

    ``masked_query`` (a SELECT over ``table``) is written beside the clear files as the masked variant;
    ``commit_latest(version, snapshot_id)`` replaces the default pointer write (the enforced mode asks
    the control plane to commit).
    """
    store = stores.current()
    version = version_key(domain, product, major)
    snapshot_id = new_snapshot_id(run_id)
    tmp = store.staging(version, snapshot_id)
    try:
        select = ", ".join(quote(c) for c in columns)
        row = con.execute(
            f"COPY (SELECT {select} FROM {quote(table)}) TO {port_store.sql_path(tmp)} "
            "(FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '256MB')"
        ).fetchone()
        row_count = int(row[0]) if row else 0
        if not tmp.exists():  # an empty result writes no file: publish an explicit empty snapshot
            tmp.mkdir()
            empty = port_store.sql_path(tmp / "data_0.parquet")
            con.execute(f"COPY (SELECT {select} FROM {quote(table)} LIMIT 0) TO {empty} (FORMAT parquet)")
        described = con.execute(f"DESCRIBE SELECT {select} FROM {quote(table)}").fetchall()
        files = [
            FileEntry(path=f.name, bytes=f.stat().st_size, sha256=_sha256(f)) for f in sorted(tmp.glob("*.parquet"))
        ]
        masked = masked_variant.write(con, masked_query, tmp) if masked_query else None
        manifest = Manifest(
            domain=domain,
            product=product,
            version=f"v{major}",
            snapshot_id=snapshot_id,
            contract_id=contract_id,
            contract_version=contract_version,
            columns=[ColumnEntry(name=r[0], type=r[1]) for r in described],
            row_count=row_count,
            files=files,
            masked=masked,
            run_id=run_id,
            built_by_run=built_by_run,
            created_at=datetime.now(UTC),
            environment=settings.environment(),
        )
        if contract_text is not None:  # the contract the data was checked against, naming where it is
            (tmp / CONTRACT).write_text(contract_copy.located(contract_text, store.where(f"{version}/{snapshot_id}")))
        (tmp / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
        store.commit(tmp, version, snapshot_id)
    except BaseException as exc:
        store.discard(tmp, version, snapshot_id)
        if isinstance(exc, Exception) and not isinstance(exc, PublishError):
            raise PublishError(f"publishing {domain}/{product}@v{major} failed: {exc}") from exc
        raise
    (commit_latest or point_latest)(version, snapshot_id)
    apply_retention(version, keep=settings.port_retention())
    return manifest


def attach_masked(manifest: Manifest, local_files: list[Path]) -> Manifest:
    """Store ``local_files`` as the masked variant of a committed snapshot, then rewrite its manifest
    (last, so a manifest never names a file that is not there). Used by the control plane, which alone
    holds the masking key in the enforced mode."""
    store = stores.current()
    base = snapshot_key(manifest)
    entries = []
    for i, f in enumerate(local_files):
        name = f"{masked_variant.PREFIX}data_{i}.parquet"
        entry = FileEntry(path=name, bytes=f.stat().st_size, sha256=_sha256(f))
        store.put_file(f"{base}/{name}", f)
        entries.append(entry)
    updated = manifest.model_copy(update={"masked": entries})
    store.write_text(f"{base}/{MANIFEST}", updated.model_dump_json(indent=2))
    return updated


def point_latest(version: str, snapshot_id: str) -> None:
    # The last step of a publish: before it, readers still resolve the previous snapshot.
    stores.current().write_text(f"{version}/{LATEST}", snapshot_id + "\n")


def snapshots(root: Path | str) -> list[str]:
    """Complete snapshot ids of a port version (a key or local folder), oldest first (ids sort by time)."""
    return stores.current().snapshot_ids(_version(root))


def snapshot_ids(domain: str, product: str, major: int) -> list[str]:
    return stores.current().snapshot_ids(version_key(domain, product, major))


def _latest(version: str) -> str | None:
    """The snapshot id ``latest`` names (None: there is no ``latest``); :class:`Damaged` when it holds no id."""
    store = stores.current()
    text = store.read_text(f"{version}/{LATEST}")
    if text is not None and not _SNAPSHOT_ID.match(text.strip()):
        raise Damaged(f"{store.where(f'{version}/{LATEST}')} holds {text.strip()[:80]!r}, not a snapshot id")
    return text.strip() if text is not None else None


def latest_snapshot(domain: str, product: str, major: int) -> str | None:
    return _latest(version_key(domain, product, major))


def snapshot_key(manifest: Manifest) -> str:
    return f"{version_key(manifest.domain, manifest.product, int(manifest.version[1:]))}/{manifest.snapshot_id}"


def read_manifest(domain: str, product: str, major: int, snapshot_id: str) -> Manifest:
    """The manifest of a snapshot; FileNotFoundError when the snapshot has none (incomplete or deleted)."""
    store = stores.current()
    key = f"{version_key(domain, product, major)}/{check_snapshot_id(snapshot_id)}/{MANIFEST}"
    text = store.read_text(key)
    if text is None:
        raise FileNotFoundError(f"{store.where(key)} does not exist")
    try:
        return Manifest.model_validate_json(text)
    except ValidationError as exc:  # the first error says enough; the file is what matters
        loc, msg = ".".join(map(str, exc.errors()[0]["loc"])), exc.errors()[0]["msg"]
        raise Damaged(f"{store.where(key)} is not a valid manifest ({loc}: {msg})") from None


def published_contract(domain: str, product: str, major: int) -> tuple[str, str] | None:
    """The contract stored with the latest snapshot of a port version, and that snapshot's id."""
    try:
        snapshot = latest_snapshot(domain, product, major)
    except Damaged:  # no baseline to diff against; `mesh ports verify` reports the pointer
        snapshot = None
    if not snapshot:
        return None
    text = stores.current().read_text(f"{version_key(domain, product, major)}/{snapshot}/{CONTRACT}")
    return (text, snapshot) if text is not None else None


def published_majors(domain: str, product: str) -> list[int]:
    """Majors with a ``latest`` or a complete snapshot (a version whose ``latest`` was lost is still published)."""
    store = stores.current()
    base = f"{check_identifier(domain)}/{check_identifier(product)}"
    return sorted(
        int(name[1:])
        for name in store.children(base)
        if name.startswith("v")
        and name[1:].isdigit()
        and (store.read_text(f"{base}/{name}/{LATEST}") is not None or store.snapshot_ids(f"{base}/{name}"))
    )


def snapshot_files(manifest: Manifest) -> list[Path]:
    """Local files holding the snapshot's data: the stored files themselves in a local store; verified
    copies from the cache for object storage (raises :class:`PublishError` when one is damaged)."""
    store = stores.current()
    base = snapshot_key(manifest)
    if isinstance(store, LocalPortStore):
        return [store.path(f"{base}/{f.path}") for f in manifest.files]
    files, problems = readable_files(manifest)
    if problems:
        raise PublishError(f"{base} is damaged: {'; '.join(problems)}")
    return files


def sql_file_list(files: list[Path]) -> str:
    """A DuckDB list literal of file paths, for ``read_parquet``."""
    return "[" + ", ".join(port_store.sql_path(f) for f in files) + "]"


def verify(manifest: Manifest, checksums: bool = True) -> list[str]:
    """Problems with a snapshot's stored files, masked variant included (missing, wrong size, wrong
    checksum); empty when intact."""
    store = stores.current()
    base = snapshot_key(manifest)
    entries = [*manifest.files, *(manifest.masked or [])]
    return [p for f in entries if (p := store.problem(f"{base}/{f.path}", f, checksums))]


def readable_files(manifest: Manifest, masked: bool = False) -> tuple[list[Path], list[str]]:
    """Local files DuckDB can read (of the clear or the masked variant), each checked against the
    manifest's sha256 on this read; or the problems. Files are checked in parallel (hashlib releases
    the GIL), so a big port split into 256 MB files costs about one file's hashing per core."""
    store = stores.current()
    base = snapshot_key(manifest)
    entries = (manifest.masked or []) if masked else manifest.files
    with ThreadPoolExecutor(min(len(entries), os.cpu_count() or 1) or 1) as pool:
        checked = list(pool.map(lambda e: store.readable(f"{base}/{e.path}", e), entries))
    files = [file for file, problem in checked if file is not None and not problem]
    return files, [problem for _, problem in checked if problem]


@dataclass(frozen=True)
class Readable:
    snapshot_id: str
    manifest: Manifest
    files: list[Path]
    problems: list[str]


def read_latest(domain: str, product: str, major: int, attempts: int = 3) -> Readable | None:
    """The latest snapshot with its files ready to read locally, or None when nothing is published.

    Retention or an erasure may delete what a reader has just resolved (``latest`` moved on, or the
    manifest was rewritten); then the reader resolves again instead of failing. A file that is
    damaged while ``latest`` stays put is reported in ``problems``; a ``latest`` or manifest that
    cannot be read as one raises :class:`Damaged`, a missing manifest FileNotFoundError.
    """
    version = version_key(domain, product, major)
    for attempt in range(attempts):
        last = attempt == attempts - 1
        snapshot = _latest(version)
        if snapshot is None:
            return None
        try:
            manifest = read_manifest(domain, product, major, snapshot)
        except FileNotFoundError:
            if last or _latest(version) == snapshot:
                raise
            continue
        files, problems = readable_files(manifest)
        if problems and not last and _moved(manifest):
            continue
        return Readable(snapshot, manifest, files, problems)
    raise AssertionError("unreachable")


def _moved(manifest: Manifest) -> bool:
    major = int(manifest.version[1:])
    if latest_snapshot(manifest.domain, manifest.product, major) != manifest.snapshot_id:
        return True
    try:
        return read_manifest(manifest.domain, manifest.product, major, manifest.snapshot_id).files != manifest.files
    except FileNotFoundError:
        return True


# Leftovers of a publish that died are collected only after this long: one may still be writing.
ORPHAN_AGE = timedelta(hours=1)


def apply_retention(root: Path | str, keep: int, orphan_age: timedelta = ORPHAN_AGE) -> list[str]:
    """Delete all but the newest ``keep`` snapshots (never the one ``latest`` names) and old leftovers."""
    store = stores.current()
    version = _version(root)
    current = _latest(version)
    removed = []
    for old in store.snapshot_ids(version)[:-keep]:
        if old != current:
            store.delete_snapshot(version, old)
            removed.append(old)
    store.remove_orphans(version, orphan_age)
    return removed


def delete_rows(con: duckdb.DuckDBPyConnection, manifest: Manifest, predicate: str, params: list) -> int:
    """Remove the rows matching ``predicate`` (SQL with ``?`` bound to ``params``) from a snapshot.

    Snapshots are immutable except for legal obligations: erasure and row retention. New files are
    written beside the old ones, the manifest is replaced atomically to point at them (with new row
    count and checksums), then the old files are deleted: a reader holds either manifest. Copies of
    the old files in this mesh's cache of object-store files are evicted too.
    """
    store = stores.current()
    base = snapshot_key(manifest)
    old_files = snapshot_files(manifest)
    sources = sql_file_list(old_files)
    hit = con.execute(f"SELECT count(*) FROM read_parquet({sources}) WHERE {predicate}", params).fetchall()[0][0]
    if not hit:
        return 0
    name = f"data_rewritten_{uuid.uuid4().hex[:8]}.parquet"
    tmp = store.scratch(f"{base}/{name}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    row = con.execute(
        f"COPY (SELECT * FROM read_parquet({sources}) WHERE NOT coalesce({predicate}, false)) "
        f"TO {port_store.sql_path(tmp)} (FORMAT parquet, COMPRESSION zstd)",
        params,
    ).fetchone()
    entry = FileEntry(path=name, bytes=tmp.stat().st_size, sha256=_sha256(tmp))
    store.put_file(f"{base}/{name}", tmp)
    # The masked variant still holds the erased rows (pseudonymised): it goes too, and readers mask the
    # rewritten clear files at read time until the next publish writes a fresh variant.
    updated = manifest.model_copy(update={"row_count": int(row[0]) if row else 0, "files": [entry], "masked": None})
    store.write_text(f"{base}/{MANIFEST}", updated.model_dump_json(indent=2))
    gone = [*manifest.files, *(manifest.masked or [])]
    for f in gone:
        store.delete(f"{base}/{f.path}")
    port_cache.forget([f.sha256 for f in gone])
    return int(hit)
