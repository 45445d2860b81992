"""Output ports: immutable, versioned Parquet snapshots that are the only way data leaves a domain.

Layout under ``$MESH_HOME/ports``::

    <domain>/<product>/v<major>/<snapshot-id>/data_0.parquet …
    <domain>/<product>/v<major>/<snapshot-id>/_manifest.json
    <domain>/<product>/v<major>/latest          (holds the id of the current snapshot)

A snapshot is written into a hidden ``.tmp-<id>`` folder, checksummed, then made visible by one
atomic rename; ``latest`` is replaced atomically afterwards. A reader therefore sees the old snapshot
or the new one, never a mix, and a publish that dies midway leaves ``latest`` where it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from pydantic import BaseModel

from meshwork import settings
from meshwork.errors import PublishError
from meshwork.names import check_identifier, quote

MANIFEST = "_manifest.json"
CONTRACT = "_contract.odcs.yaml"
LATEST = "latest"
TMP_PREFIX = ".tmp-"


class FileEntry(BaseModel):
    path: str
    bytes: int
    sha256: str


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
    run_id: str | None
    built_by_run: str | None = None
    created_at: datetime
    environment: str


def version_dir(domain: str, product: str, major: int) -> Path:
    return settings.ports_dir() / check_identifier(domain) / check_identifier(product) / f"v{int(major)}"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
) -> Manifest:
    """Publish ``columns`` of warehouse ``table`` as a new snapshot and point ``latest`` at it."""
    root = version_dir(domain, product, major)
    root.mkdir(parents=True, exist_ok=True)
    snapshot_id = new_snapshot_id(run_id)
    tmp = root / f"{TMP_PREFIX}{snapshot_id}"
    try:
        select = ", ".join(quote(c) for c in columns)
        row = con.execute(
            f"COPY (SELECT {select} FROM {quote(table)}) TO '{tmp}' "
            "(FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '256MB')"
        ).fetchone()
        row_count = int(row[0]) if row else 0
        if not tmp.exists():  # an empty result writes no file: publish an explicit empty snapshot
            tmp.mkdir()
            con.execute(
                f"COPY (SELECT {select} FROM {quote(table)} LIMIT 0) TO '{tmp / 'data_0.parquet'}' (FORMAT parquet)"
            )
        described = con.execute(f"DESCRIBE SELECT {select} FROM {quote(table)}").fetchall()
        files = [
            FileEntry(path=f.name, bytes=f.stat().st_size, sha256=_checksum(f)) for f in sorted(tmp.glob("*.parquet"))
        ]
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
            run_id=run_id,
            built_by_run=built_by_run,
            created_at=datetime.now(UTC),
            environment=settings.environment(),
        )
        if contract_text is not None:  # the contract the data was checked against travels with it
            (tmp / CONTRACT).write_text(contract_text, encoding="utf-8")
        (tmp / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
        for f in tmp.iterdir():
            _fsync(f)
        os.rename(tmp, root / snapshot_id)
        _fsync(root)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, PublishError):
            raise PublishError(f"publishing {domain}/{product}@v{major} failed: {exc}") from exc
        raise
    _point_latest(root, snapshot_id)
    apply_retention(root, keep=settings.port_retention())
    return manifest


def _checksum(path: Path) -> str:
    return _sha256(path)


def _point_latest(root: Path, snapshot_id: str) -> None:
    tmp = root / f"{TMP_PREFIX}{LATEST}-{uuid.uuid4().hex}"
    tmp.write_text(snapshot_id + "\n", encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, root / LATEST)
    _fsync(root)


def snapshots(root: Path) -> list[str]:
    """Complete snapshot ids, oldest first (ids sort by creation time)."""
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file()
    )


def latest_snapshot(domain: str, product: str, major: int) -> str | None:
    try:
        return (version_dir(domain, product, major) / LATEST).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def read_manifest(domain: str, product: str, major: int, snapshot_id: str) -> Manifest:
    path = version_dir(domain, product, major) / snapshot_id / MANIFEST
    return Manifest.model_validate_json(path.read_text(encoding="utf-8"))


def published_contract(domain: str, product: str, major: int) -> Path | None:
    """The contract file stored with the latest snapshot of a port version, if any."""
    snapshot = latest_snapshot(domain, product, major)
    path = version_dir(domain, product, major) / snapshot / CONTRACT if snapshot else None
    return path if path and path.is_file() else None


def published_majors(domain: str, product: str) -> list[int]:
    root = settings.ports_dir() / check_identifier(domain) / check_identifier(product)
    return sorted(int(p.name[1:]) for p in root.glob("v*") if p.name[1:].isdigit() and (p / LATEST).exists())


def snapshot_files(manifest: Manifest) -> list[Path]:
    base = version_dir(manifest.domain, manifest.product, int(manifest.version[1:])) / manifest.snapshot_id
    return [base / f.path for f in manifest.files]


def verify(manifest: Manifest, checksums: bool = True) -> list[str]:
    """Problems with a snapshot's files (missing, wrong size, wrong checksum); empty when intact."""
    problems = []
    for entry, file in zip(manifest.files, snapshot_files(manifest), strict=True):
        if not file.is_file():
            problems.append(f"{file} is missing")
        elif file.stat().st_size != entry.bytes:
            problems.append(f"{file} has {file.stat().st_size} bytes, the manifest says {entry.bytes}")
        elif checksums and _sha256(file) != entry.sha256:
            problems.append(f"{file} does not match its checksum")
    return problems


def _verified_marker(file: Path) -> Path:
    st = file.stat()
    tag = hashlib.sha256(f"{file.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}".encode()).hexdigest()
    return settings.mesh_home() / "cache" / "verified" / tag[:2] / tag


def verify_for_read(manifest: Manifest) -> list[str]:
    """``verify`` with checksums, paid once per file: a marker remembers a file that matched.

    The marker is keyed by path, size, mtime and inode, so a file rewritten or replaced after it was
    checked is checked again. Ports are immutable, so in steady state a read costs one stat per file.
    """
    problems = verify(manifest, checksums=False)
    if problems:
        return problems
    for entry, file in zip(manifest.files, snapshot_files(manifest), strict=True):
        marker = _verified_marker(file)
        if marker.exists():
            continue
        if _sha256(file) != entry.sha256:
            problems.append(f"{file} does not match its checksum")
            continue
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return problems


def apply_retention(root: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` snapshots (never the one ``latest`` names) and stale temp folders."""
    current = (root / LATEST).read_text(encoding="utf-8").strip() if (root / LATEST).exists() else None
    removed = []
    for old in snapshots(root)[:-keep]:
        if old != current:
            shutil.rmtree(root / old, ignore_errors=True)
            removed.append(old)
    for stale in root.glob(f"{TMP_PREFIX}*"):
        # Only folders older than an hour: a concurrent publish of the same port may still be writing.
        if stale.is_dir() and datetime.now().timestamp() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    return removed


def delete_rows(con: duckdb.DuckDBPyConnection, manifest: Manifest, predicate: str, params: list) -> int:
    """Remove the rows matching ``predicate`` (SQL with ``?`` bound to ``params``) from a snapshot.

    Snapshots are immutable except for legal obligations: erasure and row retention. New files are
    written beside the old ones, the manifest is replaced atomically to point at them (with new row
    count and checksums), then the old files are deleted: a reader holds either manifest.
    """
    base = version_dir(manifest.domain, manifest.product, int(manifest.version[1:])) / manifest.snapshot_id
    old_files = snapshot_files(manifest)
    sources = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in old_files) + "]"
    hit = con.execute(f"SELECT count(*) FROM read_parquet({sources}) WHERE {predicate}", params).fetchall()[0][0]
    if not hit:
        return 0
    tag = uuid.uuid4().hex[:8]
    new_file = base / f"data_rewritten_{tag}.parquet"
    tmp = base / f".{new_file.name}.tmp"
    row = con.execute(
        f"COPY (SELECT * FROM read_parquet({sources}) WHERE NOT coalesce({predicate}, false)) TO '{tmp}' "
        "(FORMAT parquet, COMPRESSION zstd)",
        params,
    ).fetchone()
    _fsync(tmp)
    os.replace(tmp, new_file)
    updated = manifest.model_copy(
        update={
            "row_count": int(row[0]) if row else 0,
            "files": [FileEntry(path=new_file.name, bytes=new_file.stat().st_size, sha256=_sha256(new_file))],
        }
    )
    tmp_manifest = base / f".{MANIFEST}.{tag}.tmp"
    tmp_manifest.write_text(updated.model_dump_json(indent=2), encoding="utf-8")
    _fsync(tmp_manifest)
    os.replace(tmp_manifest, base / MANIFEST)
    for f in old_files:
        f.unlink(missing_ok=True)
    return int(hit)
