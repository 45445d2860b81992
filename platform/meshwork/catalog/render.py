"""Render the catalog's HTML pages from :class:`~meshwork.catalog.export.CatalogExport` with Jinja2.

Autoescaping is on for every template, and the SVG drawings escape their own text (see
``meshwork.catalog.charts``), so descriptor text such as a description with ``<script>`` shows as text.
CSS and JavaScript are inlined into each page: the site works from disk, with no network.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from meshwork.catalog import charts
from meshwork.catalog.export import LINEAGE_DEPTH, CatalogExport, MetricEntry, ProductEntry

TEMPLATES = Path(__file__).parent / "templates"
PII = {"pii", "sensitive-pii", "sensitive_pii", "personal", "confidential-pii"}


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(dt=format_time, duration=format_duration, num=format_number, pct=format_percent)
    env.globals.update(
        css=Markup((TEMPLATES / "catalog.css").read_text(encoding="utf-8")),
        search_js=Markup((TEMPLATES / "search.js").read_text(encoding="utf-8")),
        product_js=Markup((TEMPLATES / "product.js").read_text(encoding="utf-8")),
        pii=PII,
    )
    return env


def format_time(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            smaller = {"d": ("h", 3600), "h": ("m", 60), "m": ("s", 1)}[unit]
            tail = int(rest // smaller[1])
            return f"{int(whole)}{unit} {tail}{smaller[0]}" if tail else f"{int(whole)}{unit}"
    return f"{seconds:.0f}s"


def format_number(value: float | None) -> str:
    return "–" if value is None else f"{value:,}"


def format_percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _name(ref: str) -> str:
    """`domain/product@v1` -> `product`: short chart labels (the tables have the full refs)."""
    return ref.split("@")[0].split("/")[-1]


class Renderer:
    def __init__(self, export: CatalogExport, metric_history: list[dict[str, Any]] | None = None):
        self.export = export
        self.history = metric_history or []
        self.products = {p.key: p for p in export.products}
        domains = [d.name for d in export.domains]
        self.colors = {d: charts.PALETTE[i % len(charts.PALETTE)] for i, d in enumerate(domains)}
        self.metrics = {m.name: m for m in export.metrics}

    # -- product pages ---------------------------------------------------------------------------

    def _node(self, key: str, focus: str, prefix: str) -> charts.Node:
        p = self.products.get(key)
        domain = key.split("/")[0]
        return charts.Node(
            id=key,
            label=key.split("/")[1],
            sublabel=f"{domain} · {p.kind}" if p else domain,
            href=None if key == focus else f"{prefix}{key.split('/')[0]}/{key.split('/')[1]}.html",
            color=self.colors.get(domain, charts.MUTED),
            focus=key == focus,
        )

    def lineage_svg(self, product: ProductEntry) -> Markup:
        keys = [*reversed(product.lineage.upstream), product.key, *product.lineage.downstream]
        return charts.layered_graph(
            [self._node(k, product.key, "../") for k in keys],
            product.lineage.edges,
            title=f"lineage of {product.key}",
            uid="lineage",
        )

    def history_svg(self, product: ProductEntry) -> Markup:
        current = product.ports[0]  # newest major first
        snaps = list(reversed(current.snapshots))
        return charts.line_chart(
            [(s.published_at, float(s.rows)) for s in snaps],
            title=f"rows per published snapshot of {current.ref}",
        )

    def gate_svg(self, product: ProductEntry) -> Markup:
        runs = list(reversed(product.gate_runs))
        return charts.line_chart(
            [(r.at, float(r.rows or 0)) for r in runs],
            title="contract gate runs (green passed, red failed): rows checked",
            colors=[charts.PASS if r.passed else charts.FAIL for r in runs],
        )

    def product_page(self, product: ProductEntry) -> str:
        return (
            _environment()
            .get_template("product.html")
            .render(
                export=self.export,
                p=product,
                root="../",
                lineage_svg=self.lineage_svg(product),
                history_svg=self.history_svg(product),
                gate_svg=self.gate_svg(product),
                colors=self.colors,
                depth=LINEAGE_DEPTH,
            )
        )

    # -- index -----------------------------------------------------------------------------------

    def search_index(self) -> list[dict[str, str]]:
        docs = []
        for p in self.export.products:
            text = " ".join(
                [
                    p.name,
                    p.key,
                    p.domain,
                    p.kind,
                    p.status,
                    p.purpose,
                    p.usage or "",
                    " ".join(p.tags),
                    p.owner.team,
                    p.owner.email or "",
                    " ".join(c.name for c in p.columns),
                ]
            )
            docs.append({"key": p.key, "name": p.name, "text": text.lower()})
        return docs

    def domain_svg(self) -> Markup:
        edges: dict[tuple[str, str], int] = {}
        for p in self.export.products:
            for ref in p.inputs:
                src = ref.split("/")[0]
                if src != p.domain:
                    edges[(src, p.domain)] = edges.get((src, p.domain), 0) + 1
        nodes = [
            charts.Node(
                id=d.name,
                label=d.name,
                sublabel=f"{len(d.products)} product(s) · {d.owner.team}",
                href=f"#domain-{d.name}",
                color=self.colors[d.name],
            )
            for d in self.export.domains
        ]
        return charts.layered_graph(
            nodes,
            sorted(edges),
            edge_labels={e: f"{n} input port(s)" for e, n in edges.items()},
            edge_widths={e: 1.2 + min(n, 6) for e, n in edges.items()},
            title="domains and the input ports between them",
            uid="domains",
        )

    def metric_charts(self) -> dict[str, Markup]:
        m = self.metrics
        out: dict[str, Markup] = {}
        if c := m.get("consumers"):
            # Least-read first, zeros included: a port nobody consumes is what its owner needs to see.
            rows = sorted(c.rows, key=lambda r: (r["declared_consumers"], r["port"]))
            out["consumers"] = charts.bar_chart(
                [(r["port"], r["declared_consumers"]) for r in rows],
                title="declared consumers per port version (fewest first)",
                colors=[self.colors.get(r["port"].split("/")[0], charts.MUTED) for r in rows],
            )
        if c := m.get("cross_domain_edges"):
            out["cross_domain_edges"] = charts.bar_chart(
                [(f"{r['from_domain']} → {r['to_domain']}", r["input_ports"]) for r in c.rows],
                title="input ports per domain-to-domain edge",
                colors=[self.colors.get(r["from_domain"], charts.MUTED) for r in c.rows],
            )
        out["sla_attainment"] = self._history_chart("sla_attainment", "attainment", "SLA attainment over time")
        out["contract_pass_rate"] = self._history_chart("contract_pass_rate", "pass_rate", "pass rate over time")
        if c := m.get("time_to_first_publish"):
            rows = sorted((r for r in c.rows if r["hours"] is not None), key=lambda r: -r["hours"])
            out["time_to_first_publish"] = charts.bar_chart(
                [(r["product"], r["hours"]) for r in rows], title="hours from first attempt to first publish", unit="h"
            )
        if c := m.get("change_lead_time"):
            out["change_lead_time"] = charts.bar_chart(
                [(f"{_name(r['upstream'])} → {_name(r['downstream'])}", r["median_seconds"]) for r in c.rows],
                title="median seconds from upstream publish to downstream refresh",
                unit="s",
                label_w=250,
            )
        if c := m.get("failed_publishes"):
            per: dict[str, int] = {}
            for r in c.rows:
                per[r["product"]] = per.get(r["product"], 0) + 1
            out["failed_publishes"] = charts.bar_chart(
                sorted(per.items(), key=lambda kv: -kv[1]),
                title="failed publishes per product",
                colors=[charts.FAIL] * len(per),
            )
        return out

    def _history_chart(self, name: str, field: str, title: str) -> Markup:
        points = []
        for line in self.history:
            value = (line.get("summary") or {}).get(field)
            if line.get("name") == name and isinstance(value, int | float):
                points.append((datetime.fromisoformat(line["at"]), 100 * float(value)))
        current: MetricEntry | None = self.metrics.get(name)
        if not points and current and isinstance(current.summary.get(field), int | float):
            points.append((current.computed_at, 100 * float(current.summary[field])))  # says "one point so far"
        return charts.line_chart(points, title=title, unit="%", y_max=100)

    def index_page(self) -> str:
        products = self.export.products
        fresh = sum(1 for p in products if p.freshness.status == "fresh")
        return (
            _environment()
            .get_template("index.html")
            .render(
                export=self.export,
                root="",
                search_index=self.search_index(),
                domain_svg=self.domain_svg(),
                charts=self.metric_charts(),
                metrics=self.metrics,
                colors=self.colors,
                fresh=fresh,
                port_count=sum(len(p.ports) for p in products),
            )
        )
