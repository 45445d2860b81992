"""Mesh metrics: how the mesh is used and how well it keeps its promises.

Computed from the mesh model (declared input ports), the port store (snapshot manifests), the audit
log (actual reads) and the Dagster instance (contract-gate evaluations):

=====================  ========================================================================
``consumers``          consumers per product and per port version (declared, and seen reading)
``cross_domain_edges`` dependencies between domains: the network effect of the mesh
``sla_attainment``     share of products whose latest publish is within ``sla.freshness``
``contract_pass_rate`` share of contract-gate evaluations that passed
``failed_publishes``   gate evaluations that failed (nothing was published)
``time_to_first_publish``  from the first run that set out to build a product to its first snapshot
``change_lead_time``   from an upstream publish to the first downstream snapshot built after it
=====================  ========================================================================

This module is the maths (:func:`gather` the facts once, :func:`measure` each metric). The platform
code location materializes them as assets ``mesh/<name>`` (:mod:`meshwork.locations.metric_assets`),
which keep their values with :mod:`meshwork.catalog.metric_history`; the catalog plots them.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from meshwork.core import audit
from meshwork.model.descriptors import InputPort
from meshwork.model.mesh import Mesh, Product
from meshwork.ports.publish import live_ports
from meshwork.runtime import history
from meshwork.storage.snapshots import Manifest

if TYPE_CHECKING:
    import dagster as dg

GATE_RUNS_READ = 50  # per product: enough for a pass rate over recent runs, bounded for big meshes


@dataclass
class Facts:
    """Everything the metrics look at, gathered once per materialization."""

    mesh: Mesh
    now: datetime
    instance_read: bool
    snapshots: dict[str, list[Manifest]] = field(default_factory=dict)  # port ref -> oldest first
    gate_runs: dict[str, list[history.GateRun]] = field(default_factory=dict)  # product -> newest first
    reads: list[dict[str, Any]] = field(default_factory=list)  # audit `port.read` entries
    first_attempts: dict[str, datetime] = field(default_factory=dict)  # product -> first planned run
    # The metrics' own last values: a first publish is a fact, kept after retention deletes its snapshot.
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    consumers: dict[str, list[tuple[Product, InputPort]]] = field(default_factory=dict)  # producer -> readers
    latest_ids: dict[str, str | None] = field(default_factory=dict)  # port ref -> what `latest` names

    def latest(self, ref: str) -> Manifest | None:
        found = self.snapshots.get(ref) or []
        return found[-1] if found else None


def gather(
    mesh: Mesh,
    instance: dg.DagsterInstance | None,
    now: datetime | None = None,
    previous: dict[str, dict[str, Any]] | None = None,
) -> Facts:
    """The facts, read once; ``previous``: the metrics' last values (``metric_history.read_latest``)."""
    facts = Facts(mesh=mesh, now=now or datetime.now(UTC), instance_read=instance is not None)
    facts.previous = previous or {}
    products = mesh.products  # a property that builds the dict: once, not per product
    for product in products.values():
        for i in product.inputs:
            facts.consumers.setdefault(i.product, []).append((product, i))
    for product in products.values():
        for port in product.ports:
            snaps, latest_id = history.port_snapshots(port)
            facts.latest_ids[port.ref] = latest_id
            # `latest` decides what readers get; keep it last even if ids were to sort otherwise.
            snaps.sort(key=lambda m: (m.snapshot_id == latest_id, m.created_at))
            facts.snapshots[port.ref] = snaps
        facts.gate_runs[product.key] = history.gate_runs(instance, product.key, limit=GATE_RUNS_READ)
        if attempt := history.first_attempt(instance, product.key):
            facts.first_attempts[product.key] = attempt
    with contextlib.suppress(OSError, ValueError):
        facts.reads = audit.entries("port.read")
    facts.reads = [r for r in facts.reads if r.get("action") == "port.read"]
    return facts


# Each metric: (summary numbers, one row per subject).
Result = tuple[dict[str, Any], list[dict[str, Any]]]


def consumers(f: Facts) -> Result:
    readers: dict[str, set[str]] = {}
    reads: dict[str, int] = {}
    for r in f.reads:
        readers.setdefault(str(r.get("port")), set()).add(str(r.get("consumer")))
        reads[str(r.get("port"))] = reads.get(str(r.get("port")), 0) + 1
    rows: list[dict[str, Any]] = []
    for product in f.mesh.products.values():
        declared = f.consumers.get(product.key, [])
        for port in product.ports:
            mine = sorted(c.key for c, i in declared if i.major == port.major)
            rows.append(
                {
                    "product": product.key,
                    "port": port.ref,
                    "declared_consumers": len(mine),
                    "cross_domain_consumers": sum(1 for c in mine if c.split("/")[0] != product.domain),
                    "consumers_reading": len(readers.get(port.ref, set())),
                    "reads": reads.get(port.ref, 0),
                    "consumer_list": ", ".join(mine),
                }
            )
    rows.sort(key=lambda r: (-r["declared_consumers"], r["port"]))
    with_consumers = {r["product"] for r in rows if r["declared_consumers"]}
    return {
        "products": len(f.mesh.products),
        "port_versions": len(rows),
        "consumer_edges": sum(r["declared_consumers"] for r in rows),
        "products_with_consumers": len(with_consumers),
        # The ones an owner needs to see: published for nobody (yet).
        "products_without_consumers": len(f.mesh.products) - len(with_consumers),
        "max_consumers": max((r["declared_consumers"] for r in rows), default=0),
        "reads": sum(reads.values()),
    }, rows


def cross_domain_edges(f: Facts) -> Result:
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    intra = 0
    for product in f.mesh.products.values():
        for i in product.inputs:
            if i.domain == product.domain:
                intra += 1
                continue
            edge = edges.setdefault((i.domain, product.domain), {"ports": set(), "inputs": 0, "reads": 0})
            edge["ports"].add(i.ref)
            edge["inputs"] += 1
    for r in f.reads:
        producer, consumer = str(r.get("port", "")).split("/")[0], str(r.get("consumer", "")).split("/")[0]
        if (producer, consumer) in edges:
            edges[(producer, consumer)]["reads"] += 1
    rows = [
        {
            "from_domain": a,
            "to_domain": b,
            "input_ports": e["inputs"],
            "ports": ", ".join(sorted(e["ports"])),
            "reads": e["reads"],
        }
        for (a, b), e in sorted(edges.items())
    ]
    cross = sum(r["input_ports"] for r in rows)
    connected = {r["from_domain"] for r in rows} | {r["to_domain"] for r in rows}
    n = len(f.mesh.domains)
    return {
        "domains": n,
        "domain_edges": len(rows),
        "cross_domain_inputs": cross,
        "intra_domain_inputs": intra,
        "cross_domain_share": round(cross / (cross + intra), 4) if cross + intra else None,
        "connected_domains": len(connected),
        # How much of the possible domain-to-domain wiring exists (directed pairs).
        "density": round(len(rows) / (n * (n - 1)), 4) if n > 1 else None,
    }, rows


def sla_attainment(f: Facts) -> Result:
    # Every live port counts, as in the `sla` check: a product is within its SLA when all of them are.
    rows: list[dict[str, Any]] = []
    for product in f.mesh.products.values():
        latest = [f.latest(port.ref) for port in live_ports(product, f.now.date())]
        window = product.descriptor.sla.freshness_window
        oldest = None if not latest or None in latest else min(s.created_at for s in latest if s)
        age = (f.now - oldest).total_seconds() if oldest else None
        rows.append(
            {
                "product": product.key,
                "sla": product.descriptor.sla.freshness,
                "published_at": oldest.isoformat() if oldest else None,
                "age_hours": round(age / 3600, 2) if age is not None else None,
                "within_sla": age is not None and age <= window.total_seconds(),
            }
        )
    within = sum(1 for r in rows if r["within_sla"])
    return {
        "products": len(rows),
        "within_sla": within,
        "unpublished": sum(1 for r in rows if r["published_at"] is None),
        "attainment": round(within / len(rows), 4) if rows else None,
    }, rows


def contract_pass_rate(f: Facts) -> Result:
    rows: list[dict[str, Any]] = []
    for key, runs in f.gate_runs.items():
        passed = sum(1 for r in runs if r.passed)
        rows.append(
            {
                "product": key,
                "evaluations": len(runs),
                "passed": passed,
                "failed": len(runs) - passed,
                "pass_rate": round(passed / len(runs), 4) if runs else None,
                "last": runs[0].at.isoformat() if runs else None,
            }
        )
    total = sum(r["evaluations"] for r in rows)
    passed = sum(r["passed"] for r in rows)
    return {
        "evaluations": total,
        "passed": passed,
        "failed": total - passed,
        "pass_rate": round(passed / total, 4) if total else None,
        "instance_read": f.instance_read,
    }, rows


def failed_publishes(f: Facts) -> Result:
    rows = [
        {
            "product": key,
            "at": run.at.isoformat(),
            "run_id": run.run_id,
            "rules_failed": ", ".join(r.rule for r in run.rules if not r.passed and r.severity == "error"),
        }
        for key, runs in f.gate_runs.items()
        for run in runs
        if not run.passed
    ]
    rows.sort(key=lambda r: r["at"], reverse=True)
    return {
        "failed_publishes": len(rows),
        "products_affected": len({r["product"] for r in rows}),
        "last_failure": rows[0]["at"] if rows else None,
        "instance_read": f.instance_read,
    }, rows


def _earliest(*times: datetime | str | None) -> datetime | None:
    known = [datetime.fromisoformat(t) if isinstance(t, str) else t for t in times if t]
    return min(known) if known else None


def time_to_first_publish(f: Facts) -> Result:
    """From the first run that set out to build a product (its first planned materialization in the
    Dagster instance, whatever became of it) to its first published snapshot: how long a new product
    took to get through its contract gate. The first publish is the oldest snapshot or passed gate run
    still known, or what this metric recorded before retention deleted it."""
    before = {r["product"]: r for r in (f.previous.get("time_to_first_publish") or {}).get("rows", [])}
    rows: list[dict[str, Any]] = []
    for product in f.mesh.products.values():
        old = before.get(product.key, {})
        attempt = _earliest(f.first_attempts.get(product.key), old.get("first_attempt"))
        first = _earliest(
            *(m.created_at for p in product.ports for m in f.snapshots.get(p.ref, [])[:1]),
            *(r.at for r in f.gate_runs.get(product.key, []) if r.passed),
            old.get("first_publish"),
        )
        # A publish before the first attempt still recorded: the instance was replaced since; unknown.
        hours = (first - attempt).total_seconds() / 3600 if first and attempt and first >= attempt else None
        rows.append(
            {
                "product": product.key,
                "first_attempt": attempt.isoformat() if attempt else None,
                "first_publish": first.isoformat() if first else None,
                "hours": round(hours, 4) if hours is not None else None,
            }
        )
    measured: list[float] = [r["hours"] for r in rows if r["hours"] is not None]
    return {
        "products": len(rows),
        "measured": len(measured),
        "unpublished": sum(1 for r in rows if r["first_publish"] is None),
        "median_hours": round(statistics.median(measured), 4) if measured else None,
        "max_hours": max(measured) if measured else None,
    }, rows


def change_lead_time(f: Facts) -> Result:
    """For each upstream snapshot, the time until the first downstream snapshot published after it."""
    rows: list[dict[str, Any]] = []
    every: list[float] = []
    for product in f.mesh.products.values():
        mine = f.snapshots.get(product.current_port.ref, [])
        for i in product.inputs:
            upstream = f.snapshots.get(i.ref, [])
            seen: set[str] = set()
            leads = []
            for snap in mine:
                before = [u for u in upstream if u.created_at <= snap.created_at]
                if before and before[-1].snapshot_id not in seen:
                    seen.add(before[-1].snapshot_id)
                    leads.append((snap.created_at - before[-1].created_at).total_seconds())
            if leads:
                every += leads
                rows.append(
                    {
                        "upstream": i.ref,
                        "downstream": product.key,
                        "changes": len(leads),
                        "median_seconds": round(statistics.median(leads), 1),
                        "max_seconds": round(max(leads), 1),
                    }
                )
    rows.sort(key=lambda r: -r["median_seconds"])
    return {
        "edges_measured": len(rows),
        "changes": len(every),
        "median_seconds": round(statistics.median(every), 1) if every else None,
        "p90_seconds": round(sorted(every)[int(0.9 * (len(every) - 1))], 1) if every else None,
    }, rows


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    description: str
    compute: Callable[[Facts], Result]


METRICS = [
    Metric(
        "consumers",
        "Consumers per product",
        "Declared consumers per product and port version, and how many of them were seen reading (audit log).",
        consumers,
    ),
    Metric(
        "cross_domain_edges",
        "Cross-domain edges",
        "Input ports that cross domain boundaries: the network effect of the mesh.",
        cross_domain_edges,
    ),
    Metric(
        "sla_attainment",
        "SLA attainment",
        "Share of products whose latest publish is within their sla.freshness.",
        sla_attainment,
    ),
    Metric(
        "contract_pass_rate",
        "Contract check pass rate",
        "Share of contract-gate evaluations that "
        f"passed (the last {GATE_RUNS_READ} per product in the Dagster instance).",
        contract_pass_rate,
    ),
    Metric(
        "failed_publishes",
        "Failed publishes",
        "Contract-gate evaluations that failed, so nothing was published.",
        failed_publishes,
    ),
    Metric(
        "time_to_first_publish",
        "Time to first publish",
        "Hours from the first run that set out to build a product to its first published snapshot.",
        time_to_first_publish,
    ),
    Metric(
        "change_lead_time",
        "Change lead time",
        "Seconds from an upstream publish to the first downstream snapshot published after it.",
        change_lead_time,
    ),
]
BY_NAME = {m.name: m for m in METRICS}


def measure(metric: Metric, facts: Facts) -> dict[str, Any]:
    summary, rows = metric.compute(facts)
    return {
        "name": metric.name,
        "title": metric.title,
        "computed_at": facts.now.isoformat(),
        "summary": summary,
        "rows": rows,
    }
