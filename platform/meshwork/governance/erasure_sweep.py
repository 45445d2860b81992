"""After a subject's rows are erased from the products that hold them: every other place, cleaned and checked.

Two passes, each of which yields one :class:`Place` per thing it looked at:

1. **Every port snapshot in the store**, of every product the store holds (also products deleted from
   the mesh since, and snapshots staged but not yet committed): a snapshot whose columns identify the
   subject's rows is rewritten without them (:func:`meshwork.storage.snapshots.delete_rows`: new files,
   new manifest), then its rows are read back through DuckDB (decompressed) and searched.
2. **Every file under ``$MESH_HOME``** (and the catalog folder, if it lives elsewhere), recognised by
   its first bytes, not its name:

   - DuckDB databases (warehouses): the subject's rows deleted from every table, the file rewritten
     into a fresh one (no free blocks with old values), its rows checked as text through SQL;
   - Parquet files outside snapshots (landing files, leftovers): rewritten without the subject's rows;
   - SQLite databases (the Dagster instance: runs, event log, schedules): every text and BLOB value
     holding a term redacted by SQL, including zlib-compressed ones, then ``VACUUM`` and a truncated WAL;
   - text (logs, lineage events and outbox, dbt logs, notices, catalog pages, CSV and JSON landing
     files): landing files lose the subject's rows, then terms are redacted in place;
   - gzip files: decompressed, redacted, compressed again;
   - other binary files: searched raw; a hit in a cache the mesh rebuilds (``cache/``, dbt's
     ``target/``, ``tmp/``) deletes the file, anywhere else the place is reported as not cleaned;
   - files in other compressed formats, or that cannot be read: reported, never passed as clean.

   Every file is then checked again, raw bytes always, plus its decompressed content (Parquet and
   DuckDB rows through DuckDB, SQLite's compressed values, gzip). The audit log is checked, never
   rewritten (a rewrite would break its hash chain).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from meshwork.core import settings
from meshwork.storage import landing, scrub, scrub_tables, snapshots, stores, warehouse
from meshwork.storage.local_store import LocalPortStore
from meshwork.storage.port_store import Damaged
from meshwork.storage.scrub import Terms
from meshwork.storage.scrub_tables import Rows


@dataclass
class Place:
    place: str  # a file relative to MESH_HOME, a snapshot, or a store
    kind: str
    method: str  # how it was cleaned and how it was checked
    result: str  # "absent", or what remains, or why it could not be checked
    ok: bool


_MAGIC = (
    (b"PAR1", "parquet"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
_REGENERATED = ("cache/", "tmp/", "dbt/")  # caches the mesh rebuilds: deleting a file there loses nothing


def kind_of(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(8192)
    if head[8:12] == b"DUCK":
        return "duckdb"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "binary" if b"\x00" in head else "text"


def _files(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_dir():
            yield from sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def roots() -> list[Path]:
    home = settings.mesh_home()
    catalog = settings.catalog_dir()
    return [home] if catalog.is_relative_to(home) else [home, catalog]


def _name(path: Path) -> str:
    home = settings.mesh_home()
    return str(path.relative_to(home)) if path.is_relative_to(home) else str(path)


def _said(found: set[str]) -> str:
    return "still holds: " + ", ".join(sorted(found))


# ---- pass 1: port snapshots -------------------------------------------------------------------------


def _versions() -> Iterator[tuple[str, str, int]]:
    store = stores.current()
    for domain in store.children(""):
        for product in store.children(domain):
            if product.startswith(("_", ".")):
                continue
            for version in store.children(f"{domain}/{product}"):
                if version.startswith("v") and version[1:].isdigit():
                    yield domain, product, int(version[1:])


def sweep_snapshots(rows: Rows, terms: Terms, progress: Callable[[str], None]) -> tuple[list[Place], set[Path]]:
    """Rewrite and check every snapshot in the store; also returns the local files the manifests name."""
    places, managed = [], set()
    con = warehouse.memory_connection()
    store = stores.current()
    for domain, product, major in _versions():
        for snapshot in snapshots.snapshot_ids(domain, product, major):
            name = f"{domain}/{product}@v{major}/{snapshot}"
            method = "rows read through the manifest with DuckDB (decompressed)"
            try:
                manifest = snapshots.read_manifest(domain, product, major, snapshot)
                columns = [c.name for c in manifest.columns]
                where, params = scrub_tables.predicate(columns, rows)
                removed = snapshots.delete_rows(con, manifest, where, params) if where else 0
                manifest = snapshots.read_manifest(domain, product, major, snapshot)
                if isinstance(store, LocalPortStore):
                    base = snapshots.snapshot_key(manifest)
                    managed |= {store.path(f"{base}/{f.path}") for f in [*manifest.files, *(manifest.masked or [])]}
                found: set[str] = set()
                for f in snapshots.snapshot_files(manifest):
                    found |= scrub_tables.parquet_findings(f, rows, terms)
            except (OSError, duckdb.Error, Damaged, ValueError) as exc:
                places.append(Place(name, "snapshot", method, f"could not be cleaned: {exc}", False))
                continue
            if removed:
                method = f"{removed} row(s) of the subject removed, files and manifest rewritten; " + method
                progress(f"erased {removed} row(s) from {name}")
            places.append(Place(name, "snapshot", method, _said(found) if found else "absent", not found))
    if not isinstance(store, LocalPortStore):
        places.append(
            Place(
                f"{store.url} (noncurrent object versions)",
                "store",
                "not listed: the store API sees current objects only",
                "not checked: a versioned bucket keeps the old files (docs/governance.md#erasure)",
                False,
            )
        )
    return places, managed


# ---- pass 2: every file -----------------------------------------------------------------------------


def _clean(path: Path, kind: str, rows: Rows, terms: Terms, managed: set[Path], con) -> str:
    """Clean one file in place; returns what was done (raises when it cannot be)."""
    if kind == "duckdb":
        n = scrub_tables.erase_in_duckdb(path, rows)
        return f"{n} row(s) deleted, rewritten into a fresh file (COPY FROM DATABASE + rename)"
    if kind == "parquet":
        if path in managed:
            return "a snapshot file (cleaned through its manifest)"
        return f"{scrub_tables.erase_in_parquet(path, rows)} row(s) removed (file rewritten if any)"
    if kind == "sqlite":
        return f"{scrub.redact_sqlite(path, terms)} value(s) redacted by SQL, VACUUM, WAL truncated"
    if kind == "gzip":
        return "redacted (decompressed, recompressed)" if scrub.redact_gzip_file(path, terms) else "nothing to redact"
    if kind == "text":
        if path == settings.mesh_home() / "audit" / "audit.jsonl":
            return "not rewritten (hash-chained audit log)"
        said = []
        if path.is_relative_to(settings.sources_dir()) and path.suffix in (".csv", ".jsonl"):
            where, params = scrub_tables.predicate(landing.columns(con, path), rows)
            if where and (n := landing.delete_rows(con, path, where, params)):
                said.append(f"{n} landing row(s) removed")
        said.append("terms redacted in place" if scrub.redact_text_file(path, terms) else "nothing to redact")
        return ", ".join(said)
    if kind == "binary":
        if scrub.raw_hits(path, terms) and _name(path).startswith(_REGENERATED):
            path.unlink()
            return "deleted (a cache the mesh rebuilds)"
        return "not rewritten (a binary format)"
    return "not rewritten"


def _check(path: Path, kind: str, rows: Rows, terms: Terms) -> tuple[str, set[str]]:
    """How the file was checked, and what of the subject it still holds."""
    if not path.exists():
        return "deleted", set()
    found = scrub.raw_hits(path, terms)
    if kind == "duckdb":
        found |= scrub_tables.duckdb_findings(path, rows, terms)
        return "raw bytes + every table's rows as text (SQL)", found
    if kind == "parquet":
        found |= scrub_tables.parquet_findings(path, rows, terms)
        return "raw bytes + decompressed rows as text (DuckDB)", found
    if kind == "sqlite":
        return "raw bytes + zlib-compressed values", found | scrub.sqlite_hits(path, terms)
    if kind == "gzip":
        return "raw bytes + decompressed content", found | scrub.gzip_hits(path, terms)
    if kind in ("text", "binary"):
        return "raw bytes", found
    raise ValueError(f"{kind}-compressed: its content cannot be read")


def sweep_files(rows: Rows, terms: Terms, managed: set[Path], progress: Callable[[str], None]) -> list[Place]:
    places: list[Place] = []
    seen: set[Path] = set()
    con = warehouse.memory_connection()
    # Files that appear meanwhile (a SQLite write-ahead log opened by another reader, a run's log) are
    # swept in a next round; three rounds, then whatever keeps appearing is left to the final check.
    for _ in range(3):
        new = [p for p in _files(roots()) if p not in seen]
        if not new:
            break
        seen |= set(new)
        places += _sweep(new, rows, terms, managed, progress, con)
    return places


def _sweep(
    paths: list[Path],
    rows: Rows,
    terms: Terms,
    managed: set[Path],
    progress: Callable[[str], None],
    con: duckdb.DuckDBPyConnection,
) -> list[Place]:
    places = []
    for path in paths:
        if not path.exists():  # gone meanwhile (a SQLite -wal its last connection removed)
            continue
        name = _name(path)
        if path.name.endswith(".erasing"):  # a leftover of an erasure that died: the old file is still there
            path.unlink(missing_ok=True)
            continue
        try:
            kind = kind_of(path)
        except OSError as exc:
            places.append(Place(name, "unknown", "open", f"could not be read: {exc}", False))
            continue
        try:
            done = _clean(path, kind, rows, terms, managed, con)
        except (OSError, duckdb.Error, ValueError, RuntimeError) as exc:
            done = f"could not be cleaned ({type(exc).__name__}: {exc})"
        try:
            how, found = _check(path, kind, rows, terms)
        except (OSError, duckdb.Error, ValueError, RuntimeError) as exc:
            progress(f"NOT CLEAN: {name}: could not be checked ({exc})")
            places.append(Place(name, kind, done, f"could not be checked: {exc}", False))
            continue
        if found or done.startswith("could not"):
            progress(f"NOT CLEAN: {name}: {_said(found) if found else done}")
        places.append(Place(name, kind, f"{done}; checked: {how}", _said(found) if found else "absent", not found))
    return places


def outside_places() -> list[Place]:
    """Stores of the mesh that are not files under MESH_HOME and that erasure does not reach."""
    places = []
    if settings.dagster_postgres_url():
        places.append(
            Place(
                "Dagster instance storage (PostgreSQL)",
                "database",
                "not scrubbed: only the SQLite instance storage is",
                "not checked",
                False,
            )
        )
    return places
