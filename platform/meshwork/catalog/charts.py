"""Small inline SVG drawings for the catalog: bar charts, line charts and layered lineage graphs.

Drawn by hand so the catalog stays one self-contained file per page (no chart or graph library, no
CDN). Every piece of text is escaped here, because the result is inserted into pages as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#e15759", "#76b7b2", "#edc948", "#9c755f", "#ff9da7"]
PASS, FAIL, WARN, MUTED = "#2e7d32", "#c62828", "#ef6c00", "#9e9e9e"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


def _empty(width: int, height: int, message: str) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">{escape(message)}</text></svg>'
    )


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    colors: Sequence[str] | None = None,
    width: int = 520,
    max_items: int = 15,
    label_w: int = 190,
) -> Markup:
    """Horizontal bars in the given order, labelled with their values."""
    shown = list(items)[:max_items]
    if not shown:
        return _empty(width, 60, f"{title}: no data yet")
    bar, gap, top = 18, 6, 26
    chars = label_w // 6  # roughly what fits at 11px
    height = top + len(shown) * (bar + gap) + 8
    top_value = max((v for _, v in shown), default=0) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    span = width - label_w - 70
    for i, (label, value) in enumerate(shown):
        y = top + i * (bar + gap)
        w = max(1.0, span * value / top_value) if value else 0
        color = colors[i] if colors else PALETTE[0]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end" class="chart-label">'
            f"{escape(label if len(label) <= chars else label[: chars - 1] + '…')}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{escape(color)}">'
            f"<title>{escape(label)}: {escape(_fmt(value))}{escape(unit)}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar - 5}" class="chart-value">'
            f"{escape(_fmt(value))}{escape(unit)}</text>"
        )
    if len(items) > max_items:
        parts.append(f'<text x="{label_w}" y="{height - 1}" class="muted">… {len(items) - max_items} more</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    title: str,
    unit: str = "",
    y_max: float | None = None,
    width: int = 520,
    height: int = 180,
    colors: Sequence[str] | None = None,
) -> Markup:
    """Values over time, one dot per point (coloured per point when ``colors`` is given). A series
    is drawn once it has two points: one dot on an axis says nothing about a trend."""
    if not points:
        return _empty(width, 60, f"{title}: no data yet")
    if len(points) < 2:
        when, value = points[0]
        return _empty(
            width,
            60,
            f"{title}: one point so far ({_fmt(value)}{unit} at {when.strftime('%Y-%m-%d %H:%M')});"
            " drawn from the second",
        )
    left, right, top, bottom = 56, 12, 26, 28
    xs = [p[0].timestamp() for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    top_y = y_max if y_max is not None else (max(ys) or 1) * 1.1
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (plot_w * (x - x0) / (x1 - x0) if x1 > x0 else plot_w / 2)

    def py(y: float) -> float:
        return top + plot_h - plot_h * (y / top_y if top_y else 0)

    coords = [(px(x), py(y)) for x, y in zip(xs, ys, strict=True)]
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" class="chart-label">'
        f"{escape(_fmt(top_y))}{escape(unit)}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="chart-label">0</text>',
        f'<text x="{left}" y="{height - 8}" class="chart-label">'
        f"{escape(points[0][0].strftime('%Y-%m-%d %H:%M'))}</text>",
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end" class="chart-label">'
        f"{escape(points[-1][0].strftime('%Y-%m-%d %H:%M'))}</text>",
    ]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
    parts.append(f'<path d="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    for i, ((x, y), (when, value)) in enumerate(zip(coords, points, strict=True)):
        color = colors[i] if colors else PALETTE[0]
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{escape(color)}"><title>'
            f"{escape(when.strftime('%Y-%m-%d %H:%M:%S'))}: {escape(_fmt(value))}{escape(unit)}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    sublabel: str = ""
    href: str | None = None
    color: str = PALETTE[0]
    focus: bool = False


def _layers(nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering: every node sits one layer right of its furthest upstream node."""
    ups: dict[str, list[str]] = {n.id: [] for n in nodes}
    for src, dst in edges:
        if src in ups and dst in ups and src != dst:
            ups[dst].append(src)
    layer: dict[str, int] = {}

    def visit(node: str, path: frozenset[str]) -> int:
        if node not in layer:
            # A cycle cannot happen in a loaded mesh; guard anyway so a bad input cannot recurse forever.
            layer[node] = 1 + max((visit(u, path | {node}) for u in ups[node] if u not in path), default=-1)
        return layer[node]

    for n in nodes:
        visit(n.id, frozenset())
    return layer


def layered_graph(
    nodes: Sequence[Node],
    edges: Sequence[tuple[str, str]],
    *,
    edge_labels: dict[tuple[str, str], str] | None = None,
    edge_widths: dict[tuple[str, str], float] | None = None,
    title: str = "lineage",
    uid: str = "g",
    node_w: int = 190,
    node_h: int = 42,
) -> Markup:
    """A left-to-right DAG: layers by longest path, order inside a layer by barycentre sweeps."""
    if not nodes:
        return _empty(400, 60, "no lineage")
    layer = _layers(nodes, edges)
    columns: dict[int, list[str]] = {}
    for n in sorted(nodes, key=lambda n: (n.color, n.id)):
        columns.setdefault(layer[n.id], []).append(n.id)
    ups: dict[str, list[str]] = {n.id: [] for n in nodes}
    downs: dict[str, list[str]] = {n.id: [] for n in nodes}
    for src, dst in edges:
        if src in ups and dst in ups:
            ups[dst].append(src)
            downs[src].append(dst)
    # A few barycentre sweeps (down then up) reduce edge crossings; good enough for mesh-sized graphs.
    pos = {nid: i for c in columns.values() for i, nid in enumerate(c)}
    for sweep in range(4 if len(columns) > 1 else 0):
        neighbours = ups if sweep % 2 == 0 else downs
        order = range(1, len(columns)) if sweep % 2 == 0 else range(len(columns) - 2, -1, -1)
        for col in order:
            current = columns[col]
            columns[col] = sorted(
                current,
                key=lambda nid: (
                    sum(pos[m] for m in neighbours[nid]) / len(neighbours[nid]) if neighbours[nid] else pos[nid]
                ),
            )
            pos.update({nid: i for i, nid in enumerate(columns[col])})
    gap_x, gap_y, pad = 70, 16, 10
    tallest = max(len(c) for c in columns.values())
    width = pad * 2 + len(columns) * node_w + (len(columns) - 1) * gap_x
    height = pad * 2 + tallest * node_h + (tallest - 1) * gap_y
    xy: dict[str, tuple[float, float]] = {}
    for col, ids in columns.items():
        offset = (tallest - len(ids)) * (node_h + gap_y) / 2
        for i, nid in enumerate(ids):
            xy[nid] = (pad + col * (node_w + gap_x), pad + offset + i * (node_h + gap_y))
    parts = [
        f'<svg class="lineage" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<defs><marker id="arrow-{escape(uid)}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>',
    ]
    for src, dst in edges:
        if src not in xy or dst not in xy:
            continue
        (sx, sy), (dx, dy) = xy[src], xy[dst]
        x1, y1, x2, y2 = sx + node_w, sy + node_h / 2, dx, dy + node_h / 2
        mid = (x1 + x2) / 2
        # Edge labels are tooltips: written on the curves they collide wherever edges fan out.
        label = (edge_labels or {}).get((src, dst))
        tip = f"<title>{escape(src)} → {escape(dst)}{': ' + escape(label) if label else ''}</title>"
        parts.append(
            f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2 - 2:.1f},{y2:.1f}" '
            f'fill="none" stroke="#777" stroke-width="{edge_widths.get((src, dst), 1.4) if edge_widths else 1.4}" '
            f'marker-end="url(#arrow-{escape(uid)})">{tip}</path>'
        )
    for n in nodes:
        x, y = xy[n.id]
        box = (
            f'<g class="node{" focus" if n.focus else ""}" data-id="{escape(n.id)}">'
            f'<rect x="{x}" y="{y}" width="{node_w}" height="{node_h}" rx="6" fill="#fff" '
            f'stroke="{escape(n.color)}" stroke-width="{3 if n.focus else 1.5}"/>'
            f'<rect x="{x}" y="{y}" width="6" height="{node_h}" rx="2" fill="{escape(n.color)}"/>'
            f'<text x="{x + 14}" y="{y + 18}" class="node-label">{escape(n.label[:26])}</text>'
            f'<text x="{x + 14}" y="{y + 34}" class="node-sub">{escape(n.sublabel[:30])}</text>'
            f"<title>{escape(n.id)}</title></g>"
        )
        parts.append(f'<a href="{escape(n.href)}">{box}</a>' if n.href else box)
    parts.append("</svg>")
    return Markup("".join(parts))
