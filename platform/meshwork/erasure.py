"""`mesh erase --subject <key>=<value>`: the right to erasure (GDPR Art. 17, CCPA deletion).

1. Find the source-aligned product that owns the key (its contract makes the column unique).
2. Follow lineage downstream (input ports) from it: every product reached whose contract has the
   key column holds the subject.
3. Remove the subject from the landing files of those products' source systems, from their tables
   in the domain warehouses, and from every retained snapshot of their ports.
4. Rebuild the products downstream that do not carry the key (aggregates) from the cleaned ports.
5. Write an erasure certificate listing everything touched, and an audit entry.

An unknown key or subject changes nothing and says why.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from meshwork import audit, ports, settings, warehouse
from meshwork.errors import MeshError
from meshwork.mesh import Mesh, Product
from meshwork.names import check_identifier, quote


class ErasureError(MeshError):
    """The erasure cannot be done as asked; nothing was changed."""


@dataclass
class Certificate:
    id: str
    subject: str
    requested_at: str
    owner_product: str
    holders: list[str]
    sources: dict[str, int] = field(default_factory=dict)  # file -> rows removed
    warehouses: dict[str, int] = field(default_factory=dict)  # domain/table -> rows removed
    snapshots: dict[str, int] = field(default_factory=dict)  # port/snapshot -> rows removed
    rebuilt_domains: list[str] = field(default_factory=list)
    verified_absent: bool = False
    completed_at: str | None = None


def _owner(mesh: Mesh, key: str) -> Product:
    owners = [
        p
        for p in mesh.products.values()
        if p.descriptor.product_kind.value == "source-aligned"
        and (c := p.current_port.contract.column(key)) is not None
        and (c.unique or c.primary_key)
    ]
    if len(owners) != 1:
        found = ", ".join(p.key for p in owners) or "none"
        raise ErasureError(f"no single source-aligned product owns the key '{key}' (found: {found})")
    return owners[0]


def _downstream(mesh: Mesh, start: Product) -> list[Product]:
    seen, order, queue = {start.key}, [], [start]
    while queue:
        product = queue.pop(0)
        for consumer, _ in mesh.consumers(product.key):
            if consumer.key not in seen:
                seen.add(consumer.key)
                order.append(consumer)
                queue.append(consumer)
    return order


def _typed(value: str, con: duckdb.DuckDBPyConnection, physical_type: str) -> Any:
    try:
        return con.execute(f"SELECT CAST(? AS {physical_type})", [value]).fetchall()[0][0]
    except duckdb.Error as exc:
        raise ErasureError(f"'{value}' is not a valid {physical_type}") from exc


def _erase_source_file(con: duckdb.DuckDBPyConnection, file: Path, key: str, value: str) -> int:
    readers = {
        ".parquet": "read_parquet(?)",
        ".csv": "read_csv(?, header = true, all_varchar = true)",
        ".jsonl": "read_json(?, format = 'newline_delimited')",
    }
    writers = {".parquet": "FORMAT parquet", ".csv": "FORMAT csv, HEADER true", ".jsonl": "FORMAT json"}
    if file.suffix not in readers:
        return 0
    scan = readers[file.suffix]
    match = f"CAST({quote(key)} AS VARCHAR) = ?"
    hit = con.execute(f"SELECT count(*) FROM {scan} WHERE {match}", [str(file), value]).fetchall()[0][0]
    if hit:
        tmp = file.with_name(f".{file.name}.erasing")
        con.execute(
            f"COPY (SELECT * FROM {scan} WHERE NOT coalesce({match}, false)) TO '{tmp}' ({writers[file.suffix]})",
            [str(file), value],
        )
        os.replace(tmp, file)
    return int(hit)


def plan(mesh: Mesh, subject: str) -> tuple[str, str, Product, list[Product], list[Product]]:
    key, sep, value = subject.partition("=")
    if not sep or not value:
        raise ErasureError("write the subject as <key>=<value>, e.g. customer_id=42")
    check_identifier(key)
    owner = _owner(mesh, key)
    downstream = _downstream(mesh, owner)
    holders = [owner] + [p for p in downstream if p.current_port.contract.column(key) is not None]
    others = [p for p in downstream if p not in holders]
    return key, value, owner, holders, others


def erase(mesh: Mesh, subject: str, rebuild: Callable[[list[str]], bool] | None = None, progress=print) -> Certificate:
    key, value, owner, holders, others = plan(mesh, subject)
    con = warehouse.memory_connection()
    typed = _typed(value, con, owner.current_port.contract.column(key).physical_type)  # type: ignore[union-attr]
    # Refuse an unknown subject before touching anything.
    with warehouse.connect(owner.domain) as wcon:
        table = owner.descriptor.implementation.model or owner.name
        found = wcon.execute(f"SELECT count(*) FROM {quote(table)} WHERE {quote(key)} = ?", [typed]).fetchall()[0][0]
    if not found:
        raise ErasureError(f"no {key}={value} in {owner.key}: nothing to erase")
    cert = Certificate(
        id=uuid.uuid4().hex[:12],
        subject=f"{key}={value}",
        requested_at=datetime.now(UTC).isoformat(),
        owner_product=owner.key,
        holders=[p.key for p in holders],
    )
    for product in holders:
        for src in product.descriptor.sources:
            for file in sorted((settings.sources_dir() / src.system / src.table).glob("*")):
                if file.is_file() and (n := _erase_source_file(con, file, key, value)):
                    cert.sources[str(file.relative_to(settings.mesh_home()))] = n
        table = product.descriptor.implementation.model or product.name
        with warehouse.connect(product.domain) as wcon:
            exists = wcon.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_type = 'BASE TABLE'",
                [table],
            ).fetchall()[0][0]
            if exists:
                n = wcon.execute(f"DELETE FROM {quote(table)} WHERE {quote(key)} = ?", [typed]).fetchall()[0][0]
                if n:
                    cert.warehouses[f"{product.domain}/{table}"] = int(n)
        for port in product.ports:
            for snapshot in ports.snapshots(ports.version_dir(product.domain, product.name, port.major)):
                manifest = ports.read_manifest(product.domain, product.name, port.major, snapshot)
                if port.contract.column(key) and (n := ports.erase_rows(con, manifest, key, typed)):
                    cert.snapshots[f"{port.ref}/{snapshot}"] = n
        progress(f"erased {key}={value} from {product.key}")
    cert.rebuilt_domains = sorted({p.domain for p in others})
    if rebuild and cert.rebuilt_domains:
        progress(f"rebuilding {', '.join(cert.rebuilt_domains)} from the cleaned ports …")
        if not rebuild(cert.rebuilt_domains):
            raise ErasureError(f"the subject is erased, but rebuilding {cert.rebuilt_domains} failed: run mesh build")
    cert.verified_absent = not remaining(mesh, holders, key, typed, con)
    cert.completed_at = datetime.now(UTC).isoformat()
    path = settings.mesh_home() / "governance" / "erasures" / f"{cert.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(cert), indent=2), encoding="utf-8")
    audit.record(
        "erasure",
        subject=cert.subject,
        certificate=cert.id,
        holders=cert.holders,
        snapshots=len(cert.snapshots),
        verified_absent=cert.verified_absent,
    )
    return cert


def remaining(mesh: Mesh, holders: list[Product], key: str, value: Any, con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every retained snapshot of the holders that still contains the subject (empty after erasure)."""
    left = []
    for product in holders:
        for port in product.ports:
            if not port.contract.column(key):
                continue
            for snapshot in ports.snapshots(ports.version_dir(product.domain, product.name, port.major)):
                manifest = ports.read_manifest(product.domain, product.name, port.major, snapshot)
                files = "[" + ", ".join(f"'{f}'" for f in ports.snapshot_files(manifest)) + "]"
                n = con.execute(
                    f"SELECT count(*) FROM read_parquet({files}) WHERE {quote(key)} = ?", [value]
                ).fetchall()
                if n[0][0]:
                    left.append(f"{port.ref}/{snapshot}")
    return left
