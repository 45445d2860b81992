"""The mesh catalog: a static, self-contained HTML site plus ``catalog.json``.

Generated from the same descriptors and contracts that build the mesh, the port store (snapshots)
and, when there is one, the Dagster instance (contract-gate results and their history). The site
has no external CSS, JavaScript or fonts, so it can be opened from disk, attached to a ticket or
served from any static host (set ``MESH_CATALOG_URL`` so Dagster's asset pages link to it; ``mesh dev``
serves it, :mod:`meshwork.catalog.serve`). With ``MESH_DAGSTER_URL`` set, pages link to their assets there.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from meshwork.catalog import metric_history, metrics, render
from meshwork.catalog.export import (
    LINEAGE_DEPTH,
    CatalogExport,
    ColumnEntry,
    ConsumerEntry,
    DomainEntry,
    FreshnessEntry,
    GateRunEntry,
    GrantEntry,
    LineageEntry,
    MetricEntry,
    OwnerEntry,
    PortEntry,
    ProductEntry,
    RuleEntry,
    RuleResultEntry,
    SnapshotEntry,
)
from meshwork.core import settings
from meshwork.lineage import graph
from meshwork.model.descriptors import InputPort
from meshwork.model.mesh import Mesh, Port, Product
from meshwork.model.rules import compile_rules
from meshwork.runtime import history

if TYPE_CHECKING:
    import dagster as dg

GATE_RUNS_SHOWN = 20
EXPORT = "catalog.json"
PAGES = ".pages.json"  # the pages this catalog wrote: a rebuild deletes those of vanished products


def page_path(product_key: str) -> str:
    domain, name = product_key.split("/")
    return f"{domain}/{name}.html"


def _owner(owner) -> OwnerEntry:
    return OwnerEntry(team=owner.team, email=owner.email)


def _snapshot(m) -> SnapshotEntry:
    return SnapshotEntry(
        snapshot_id=m.snapshot_id,
        published_at=m.created_at,
        rows=m.row_count,
        contract_version=m.contract_version,
        run_id=m.run_id,
    )


def _port(
    mesh: Mesh, port: Port, snaps: list, latest_id: str | None, readers: list[tuple[Product, InputPort]]
) -> PortEntry:
    spec = port.spec
    state: Literal["active", "deprecated", "removed"] = (
        "removed" if spec.is_removed(mesh.today) else "deprecated" if spec.is_deprecated(mesh.today) else "active"
    )
    entries = [_snapshot(m) for m in reversed(snaps)]
    return PortEntry(
        ref=port.ref,
        version=port.version,
        visibility=port.visibility.value,
        contract_id=port.contract.id,
        contract_version=port.contract.version,
        state=state,
        deprecated_after=spec.deprecated_after,
        removed_after=spec.removed_after,
        grants=[GrantEntry(consumer=g.consumer, purpose=g.purpose, pii=g.pii, expires=g.expires) for g in spec.grants],
        latest=next((s for s in entries if s.snapshot_id == latest_id), None),
        snapshots=entries,
        consumers=sorted(c.key for c, i in readers if i.major == port.major),
    )


def _rules(product: Product, runs: list[history.GateRun]) -> list[RuleEntry]:
    latest = runs[0] if runs else None
    outcomes = {(o.port, o.rule): o for o in latest.rules} if latest else {}
    entries = []
    for port in product.ports:
        for rule in compile_rules(port.contract, product.key)[0]:
            o = outcomes.get((port.ref, rule.id))
            result = (
                RuleResultEntry(
                    passed=o.passed,
                    failing_rows=o.failing_rows,
                    detail=o.detail,
                    evaluated_at=latest.at,
                    run_id=latest.run_id,
                )
                if o and latest
                else None
            )
            entries.append(
                RuleEntry(
                    port=port.ref,
                    id=rule.id,
                    kind=rule.kind,
                    description=rule.description,
                    severity=rule.severity,
                    result=result,
                )
            )
    # Outcomes of checks the gate runs beyond the compiled rules (each column's presence and type).
    known = {(e.port, e.id) for e in entries}
    if latest is None:
        return entries
    for o in latest.rules:
        if (o.port, o.rule) not in known:
            column = o.rule.removesuffix(".column")
            entries.append(
                RuleEntry(
                    port=o.port,
                    id=o.rule,
                    kind="schema" if o.rule.endswith(".column") else "gate",
                    description=f"column '{column}' is present with its contract type" if column != o.rule else o.rule,
                    severity=o.severity,
                    result=RuleResultEntry(
                        passed=o.passed,
                        failing_rows=o.failing_rows,
                        detail=o.detail,
                        evaluated_at=latest.at,
                        run_id=latest.run_id,
                    ),
                )
            )
    return entries


def _freshness(product: Product, latest: SnapshotEntry | None, now: datetime) -> FreshnessEntry:
    window = product.descriptor.sla.freshness_window.total_seconds()
    age = (now - latest.published_at).total_seconds() if latest else None
    return FreshnessEntry(
        sla=product.descriptor.sla.freshness,
        window_seconds=window,
        status="unpublished" if age is None else "fresh" if age <= window else "stale",
        published_at=latest.published_at if latest else None,
        age_seconds=age,
        as_of=now,
    )


def _walk(start: str, step: dict[str, list[str]], depth: int) -> list[str]:
    """Products reachable from ``start`` within ``depth`` hops, nearest first."""
    seen, frontier, found = {start}, [start], []
    for _ in range(depth):
        nxt = []
        for node in frontier:
            for n in sorted(step.get(node, [])):
                if n not in seen:
                    seen.add(n)
                    nxt.append(n)
        found += nxt
        frontier = nxt
    return found


def _lineage(key: str, ups: dict[str, list[str]], downs: dict[str, list[str]]) -> LineageEntry:
    upstream = _walk(key, ups, LINEAGE_DEPTH)
    downstream = _walk(key, downs, LINEAGE_DEPTH)
    shown = {key, *upstream, *downstream}
    # Only edges along the focus product's paths: siblings' other inputs would clutter the graph.
    up_set, down_set = {key, *upstream}, {key, *downstream}
    edges = sorted(
        (src, dst)
        for dst in shown
        for src in ups.get(dst, [])
        if src in shown and ((src in up_set and dst in up_set) or (src in down_set and dst in down_set))
    )
    return LineageEntry(upstream=upstream, downstream=downstream, edges=edges)


def _product(facts: metrics.Facts, product: Product, ups, downs) -> ProductEntry:
    mesh = facts.mesh
    runs = facts.gate_runs.get(product.key, [])
    readers = facts.consumers.get(product.key, [])
    port_entries = [
        _port(mesh, p, facts.snapshots.get(p.ref, []), facts.latest_ids.get(p.ref), readers)
        for p in sorted(product.ports, key=lambda p: -p.major)
    ]
    current = next(e for e in port_entries if e.ref == product.current_port.ref)
    d = product.descriptor
    return ProductEntry(
        key=product.key,
        domain=product.domain,
        name=product.name,
        page=page_path(product.key),
        status=d.status,
        kind=d.product_kind.value,
        engine=d.implementation.engine,
        purpose=d.description.purpose,
        usage=d.description.usage,
        limitations=d.description.limitations,
        owner=_owner(product.owner),
        tags=list(d.tags),
        retention=d.retention,
        schedule=d.sla.schedule,
        inputs=[i.ref for i in product.inputs],
        ports=port_entries,
        columns=[
            ColumnEntry(
                name=c.name,
                type=c.physical_type,
                description=c.description,
                classification=c.classification,
                required=c.required,
                unique=c.unique,
                primary_key=c.primary_key,
            )
            for c in product.current_port.contract.columns
        ],
        rules=_rules(product, runs),
        freshness=_freshness(product, current.latest, facts.now),
        consumers=[
            ConsumerEntry(product=c.key, domain=c.domain, version=i.version, cross_domain=c.domain != product.domain)
            for c, i in sorted(readers, key=lambda ci: (ci[0].key, ci[1].version))
        ],
        lineage=_lineage(product.key, ups, downs),
        gate_runs=[
            GateRunEntry(at=r.at, run_id=r.run_id, passed=r.passed, rows=r.rows, rules_failed=r.rules_failed)
            for r in runs[:GATE_RUNS_SHOWN]
        ],
    )


def _metrics(facts: metrics.Facts) -> list[MetricEntry]:
    """The materialized metrics when the assets have run; otherwise computed now (not recorded)."""
    stored = metric_history.read_latest()
    return [
        MetricEntry.model_validate(
            {**stored[m.name], "source": "materialized"}
            if m.name in stored
            else {**metrics.measure(m, facts), "source": "computed"}
        )
        for m in metrics.METRICS
    ]


def collect(mesh: Mesh, instance: dg.DagsterInstance | None, now: datetime | None = None) -> CatalogExport:
    # The same facts as the mesh metrics: snapshots, gate runs, consumers, read once for both.
    facts = metrics.gather(mesh, instance, now or datetime.now(UTC))
    # The same edges as `mesh lineage` and Dagster: input ports, and ref() inside a domain's dbt models.
    ups = {key: sorted(producers) for key, producers in graph.edges(mesh)[0].items()}
    downs: dict[str, list[str]] = {}
    for key, producers in ups.items():
        for producer in producers:
            downs.setdefault(producer, []).append(key)
    by_key = mesh.products
    products = [_product(facts, by_key[k], ups, downs) for k in sorted(by_key)]
    domains = []
    for name in sorted(mesh.domains):
        domain = mesh.domains[name]
        upstream = mesh.upstream_domains(name)
        downstream = {d for d in mesh.domains if name in mesh.upstream_domains(d)}
        domains.append(
            DomainEntry(
                name=name,
                description=domain.descriptor.description,
                owner=_owner(domain.descriptor.owner),
                products=sorted(p.key for p in domain.products),
                upstream_domains=sorted(upstream),
                downstream_domains=sorted(downstream),
            )
        )
    return CatalogExport(
        generated_at=facts.now,
        environment=settings.environment(),
        instance=instance is not None,
        dagster_url=settings.dagster_url(),
        domains=domains,
        products=products,
        metrics=_metrics(facts),
        problems=[str(p) for p in mesh.problems],
        broken={d: [str(p) for p in ps] for d, ps in sorted(mesh.broken.items())},
    )


@dataclass
class BuildSummary:
    out: Path
    index: Path
    export: Path
    pages: list[Path]
    seconds: float
    instance: bool
    removed: list[Path]


def _write(path: Path, text: str) -> None:
    """Write a page atomically so a reader (or a web server) never gets half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build(mesh: Mesh, out: Path | None = None, now: datetime | None = None) -> BuildSummary:
    """Write index.html, one page per product and catalog.json into ``out`` (default $MESH_HOME/catalog)."""
    start = time.monotonic()
    out = (out or settings.catalog_dir()).resolve()
    previous: set[str] = set()
    with contextlib.suppress(OSError, ValueError, TypeError):
        previous = set(json.loads((out / PAGES).read_text(encoding="utf-8")))
    with history.open_instance() as instance:
        export = collect(mesh, instance, now)
    renderer = render.Renderer(export, metric_history.read_history())
    pages = []
    for product in export.products:
        path = out / product.page
        _write(path, renderer.product_page(product))
        pages.append(path)
    _write(out / "index.html", renderer.index_page())
    _write(out / EXPORT, export.model_dump_json(indent=1))
    _write(out / PAGES, json.dumps(sorted(p.page for p in export.products)))
    # Pages of products that no longer exist would otherwise linger with stale content; a product whose
    # definition does not load still exists, so its last page stays until it is fixed.
    removed = []
    keep = {p.page for p in export.products} | {page_path(k) for k in mesh.unloaded_products()}
    for page in sorted(previous - keep):
        stale = out / page
        if stale.is_file() and stale.suffix == ".html":
            stale.unlink()
            removed.append(stale)
    return BuildSummary(
        out=out,
        index=out / "index.html",
        export=out / EXPORT,
        pages=pages,
        seconds=time.monotonic() - start,
        instance=export.instance,
        removed=removed,
    )
