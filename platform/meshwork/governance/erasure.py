"""`mesh erase --subject <key>=<value>`: the right to erasure (GDPR Art. 17, CCPA deletion).

1. Find the source-aligned product that owns the key (its contract makes the column unique), and read
   the subject's record there: its PII values are what erasure then looks for in bytes
   (:mod:`meshwork.governance.erasure_subject`).
2. Follow lineage downstream (input ports) from it: every product reached whose contract has the
   key column holds the subject.
3. Remove the subject from the landing files of those products' source systems, from their tables
   in the domain warehouses, and from every retained snapshot of their ports.
   Products whose contract has a foreign key onto an erased row's key (order lines of the subject's
   orders) lose the rows pointing at it too, transitively.
4. Rebuild the products downstream that do not carry the key (aggregates) from the cleaned ports.
5. Sweep everything else (:mod:`meshwork.governance.erasure_sweep`): every snapshot in the store, of
   products deleted since too, and every file under ``$MESH_HOME`` (warehouses rewritten, the Dagster
   instance, logs, lineage events, catalog), each checked afterwards and listed as a place.
6. Write an erasure certificate (every place, how it was cleaned and checked, the result;
   ``verified_absent`` only when every place was checked and is clean) and an audit entry, both naming
   the subject by a salted hash only.

An unknown key or subject changes nothing and says why. Steps 1-3 and 5 run under ``hold()``: the
caller's locks that keep builds from running meanwhile (the rebuild takes its own).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from meshwork.core import audit, settings
from meshwork.core.errors import MeshError
from meshwork.core.names import check_identifier, quote
from meshwork.governance import erasure_sweep
from meshwork.governance.erasure_subject import Subject, subject_hash
from meshwork.governance.erasure_sweep import Place
from meshwork.model.mesh import Mesh, Product
from meshwork.model.rules import compile_rules
from meshwork.storage import landing, snapshots, warehouse


class ErasureError(MeshError):
    """The erasure cannot be done as asked; nothing was changed."""


# What erasure does not reach, said on every certificate (docs/governance.md#erasure).
NOT_COVERED = [
    "backups and copies of MESH_HOME or of the port store made outside the mesh",
    "events already delivered to an OpenLineage backend, notices a webhook accepted, and terminals or CI logs "
    "that showed the data",
    "noncurrent object versions in a versioned bucket (MESH_PORTS_URL=s3://…)",
    "a Dagster instance on PostgreSQL (MESH_DAGSTER_POSTGRES_URL)",
]


@dataclass
class Certificate:
    id: str
    subject: str  # the salted hash of <key>=<value>, never the clear value
    subject_key: str
    requested_at: str
    owner_product: str
    holders: list[str]
    sources: dict[str, int] = field(default_factory=dict)  # file -> rows removed
    warehouses: dict[str, int] = field(default_factory=dict)  # domain/table -> rows removed
    snapshots: dict[str, int] = field(default_factory=dict)  # port/snapshot -> rows removed
    rebuilt_domains: list[str] = field(default_factory=list)
    rebuild_failed: bool = False  # the aggregates were not rebuilt: run mesh build (nothing of the subject left)
    searched_as_text: list[str] = field(default_factory=list)  # columns whose values were searched anywhere
    matched_by_column_only: list[str] = field(default_factory=list)  # short or shared PII values
    places: list[Place] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=lambda: list(NOT_COVERED))
    verified_absent: bool = False
    completed_at: str | None = None

    @property
    def failed_places(self) -> list[Place]:
        return [p for p in self.places if not p.ok]


def _names_one_row(product: Product, key: str) -> bool:
    """Whether ``key`` names one row of ``product``: unique, or its whole primary key (a part of a
    composite one, such as the order id of an order line, names several)."""
    contract = product.current_port.contract
    column = contract.column(key)
    return column is not None and (column.unique or [c.name for c in contract.columns if c.primary_key] == [key])


def _owner(mesh: Mesh, key: str) -> Product:
    owners = [
        p
        for p in mesh.products.values()
        if p.descriptor.product_kind.value == "source-aligned" and _names_one_row(p, key)
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


@dataclass(frozen=True)
class Target:
    """Rows of one product to erase: those whose ``column`` holds one of ``values``."""

    product: Product
    column: str
    values: tuple[Any, ...]


def _dependents(mesh: Mesh, product: Product) -> list[tuple[Product, str, str]]:
    """(product, its column, our column) for every contract whose foreign key points at ``product``.

    This is how erasure reaches rows that do not carry the subject's key themselves: the lines of an
    erased customer's orders hold only the order id.
    """
    found = []
    for other in mesh.products.values():
        for rule in compile_rules(other.current_port.contract, other.key)[0]:
            if rule.kind == "foreign_key" and rule.params["product"] == product.key:
                found.append((other, rule.columns[0], rule.params["column"]))
    return found


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


def _table_exists(wcon: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        wcon.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_type = 'BASE TABLE'",
            [table],
        ).fetchall()[0][0]
    )


def _erase_target(
    mesh: Mesh, target: Target, con: duckdb.DuckDBPyConnection, cert: Certificate, visited: set, subject: Subject
) -> list[Target]:
    """Erase one target everywhere; return the targets its foreign-key dependents now form."""
    product, column, values = target.product, target.column, list(target.values)
    for v in values:
        subject.add_identifier(column, v)
    follow = [(d, c, k) for d, c, k in _dependents(mesh, product) if (d.key, c) not in visited]
    # Landing files are text as often as typed: compare as text so '42' in a CSV matches 42.
    as_text = f"list_contains(?, CAST({quote(column)} AS VARCHAR))"
    for src in product.descriptor.sources:
        for file in landing.files(src):
            if n := landing.delete_rows(con, file, as_text, [[str(v) for v in values]]):
                cert.sources[str(file.relative_to(settings.mesh_home()))] = n
    table = product.descriptor.implementation.model or product.name
    referenced: dict[str, list[Any]] = {}
    # A single-column primary key names the erased row on its own (a ticket id); a part of a composite
    # one (a line number) names nothing.
    keys = [c.name for c in product.current_port.contract.columns if c.primary_key]
    keys = [k for k in keys if k != column] if len(keys) == 1 else []
    try:
        with warehouse.connect(product.domain) as wcon:
            if _table_exists(wcon, table):
                where = f"list_contains(?, {quote(column)})"
                # Read what dependents point at, and the erased rows' own keys (their ids in logs), first.
                for k in {k for _, _, k in follow} | set(keys):
                    found = [
                        r[0]
                        for r in wcon.execute(
                            f"SELECT DISTINCT {quote(k)} FROM {quote(table)} WHERE {where}", [values]
                        ).fetchall()
                    ]
                    referenced[k] = found
                    if k in keys:
                        for v in found:
                            subject.add_identifier(k, v)
                n = wcon.execute(f"DELETE FROM {quote(table)} WHERE {where}", [values]).fetchall()[0][0]
                if n:
                    cert.warehouses[f"{product.domain}/{table}"] = int(n)
    except duckdb.Error as exc:  # a run holds the warehouse: the sweep reports the file as not cleaned
        cert.places.append(
            Place(f"{product.domain}/{table}", "table", "DELETE by key", f"could not be opened: {exc}", False)
        )
    for port in product.ports:
        if not port.contract.column(column):
            continue
        for snapshot in snapshots.snapshot_ids(product.domain, product.name, port.major):
            manifest = snapshots.read_manifest(product.domain, product.name, port.major, snapshot)
            if n := snapshots.delete_rows(con, manifest, f"list_contains(?, {quote(column)})", [values]):
                cert.snapshots[f"{port.ref}/{snapshot}"] = n
    return [Target(d, c, tuple(referenced[k])) for d, c, k in follow if referenced.get(k)]


def erase(
    mesh: Mesh,
    subject: str,
    rebuild: Callable[[list[str]], bool] | None = None,
    progress=print,
    hold: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
) -> Certificate:
    key, value, owner, holders, _ = plan(mesh, subject)
    con = warehouse.memory_connection()
    typed = _typed(value, con, owner.current_port.contract.column(key).physical_type)  # type: ignore[union-attr]
    with hold():
        # Refuse an unknown subject before touching anything.
        with warehouse.connect(owner.domain) as wcon:
            table = owner.descriptor.implementation.model or owner.name
            found = wcon.execute(f"SELECT count(*) FROM {quote(table)} WHERE {quote(key)} = ?", [typed]).fetchall()
            if not found[0][0]:
                raise ErasureError(f"no {key}={value} in {owner.key}: nothing to erase")
            who = Subject(key, typed)
            who.add_personal(owner, key, typed, wcon)
        cert = Certificate(
            id=uuid.uuid4().hex[:12],
            subject=subject_hash(f"{key}={value}"),
            subject_key=key,
            requested_at=datetime.now(UTC).isoformat(),
            owner_product=owner.key,
            holders=[],
        )
        erased = _erase_holders(mesh, key, value, typed, holders, con, cert, who, progress)
    cert.holders = list(dict.fromkeys(t.product.key for t in erased))
    touched = set(cert.holders)
    rebuilt = {p.domain for t in erased for p in _downstream(mesh, t.product) if p.key not in touched}
    cert.rebuilt_domains = sorted(rebuilt)
    if rebuild and cert.rebuilt_domains:
        progress(f"rebuilding {', '.join(cert.rebuilt_domains)} from the cleaned ports …")
        cert.rebuild_failed = not rebuild(cert.rebuilt_domains)
    with hold():
        progress("sweeping every snapshot and every file under MESH_HOME …")
        places, managed = erasure_sweep.sweep_snapshots(who.rows, who.terms, progress)
        places += erasure_sweep.sweep_files(who.rows, who.terms, managed, progress)
        places += erasure_sweep.outside_places()
    cert.places += places
    cert.searched_as_text = sorted(who.terms.values)
    cert.matched_by_column_only = sorted(who.shared)
    cert.verified_absent = bool(cert.places) and not cert.failed_places
    cert.completed_at = datetime.now(UTC).isoformat()
    path = settings.mesh_home() / "governance" / "erasures" / f"{cert.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(cert), indent=2), encoding="utf-8")
    audit.record(
        "erasure",
        subject=cert.subject,
        subject_key=key,
        certificate=cert.id,
        holders=cert.holders,
        snapshots=len(cert.snapshots),
        places=len(cert.places),
        not_clean=[p.place for p in cert.failed_places],
        verified_absent=cert.verified_absent,
    )
    return cert


def _erase_holders(
    mesh: Mesh,
    key: str,
    value: str,
    typed: Any,
    holders: list[Product],
    con: duckdb.DuckDBPyConnection,
    cert: Certificate,
    who: Subject,
    progress: Callable[[str], None],
) -> list[Target]:
    queue = [Target(p, key, (typed,)) for p in holders]
    visited = {(p.key, key) for p in holders}
    erased: list[Target] = []
    while queue:
        target = queue.pop(0)
        erased.append(target)
        for dependent in _erase_target(mesh, target, con, cert, visited, who):
            visited.add((dependent.product.key, dependent.column))
            queue.append(dependent)
        via = "" if target.column == key else f" ({len(target.values)} {target.column} value(s) linked to the subject)"
        progress(f"erased {key}={value} from {target.product.key}{via}")
    return erased
