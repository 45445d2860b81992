"""``mesh lineage``: a product's upstream and downstream products, and its columns' lineage.

Products come from the descriptors' input ports (across domains), so the answer needs no run, plus
the ``ref()`` dependencies between dbt products of one domain once that domain has been built.
Columns come from the compiled SQL of the last dbt run of each domain (parsed with sqlglot), so
they are known for dbt products once their domain has been built, and not for Python products.
"""

from __future__ import annotations

from typing import Any

from meshwork.core import settings
from meshwork.lineage.column_lineage import ColumnOrigin, dbt_column_lineage, load_manifest
from meshwork.model.mesh import Mesh, Product

REF = "ref"  # a dbt model reading a product of its own domain with ref(), not through a port


def edges(mesh: Mesh) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """product -> {producer: port version read, or "ref"}, and the same edges reversed.

    Input ports come from the descriptors; dependencies inside a domain that dbt knows from ``ref()``
    (and that Dagster draws) come from the domain's last dbt run, when there has been one.
    """
    ups: dict[str, dict[str, str]] = {key: {} for key in mesh.products}
    downs: dict[str, dict[str, str]] = {key: {} for key in mesh.products}
    for product in mesh.products.values():
        for port in product.inputs:
            if port.product in mesh.products:
                ups[product.key][port.product] = f"v{port.major}"
                downs[port.product][product.key] = f"v{port.major}"
    for consumer, producer in _dbt_refs(mesh):
        ups[consumer].setdefault(producer, REF)
        downs[producer].setdefault(consumer, REF)
    return ups, downs


def _dbt_refs(mesh: Mesh) -> list[tuple[str, str]]:
    """(consumer, producer) pairs of dbt products of one domain where the consumer's model refs the producer's."""
    pairs = []
    for name, domain in mesh.domains.items():
        models = {
            p.descriptor.implementation.model or p.name: p.key
            for p in domain.products
            if p.descriptor.implementation.engine == "dbt"
        }
        manifest = load_manifest(settings.dbt_target_dir(name) / "manifest.json") if models else None
        nodes = (manifest or {}).get("nodes", {})
        by_id = {uid: n.get("name") for uid, n in nodes.items() if n.get("resource_type") == "model"}
        for uid, node in nodes.items():
            consumer = models.get(by_id.get(uid) or "")
            if consumer is None:
                continue
            for parent in node.get("depends_on", {}).get("nodes", []):
                producer = models.get(by_id.get(parent) or "")
                if producer and producer != consumer:
                    pairs.append((consumer, producer))
    return pairs


def _walk(mesh: Mesh, start: str, step: dict[str, dict[str, str]], depth: int) -> list[dict[str, Any]]:
    """Products within ``depth`` hops of ``start``, nearest first, each with the edge that reached it."""
    seen, frontier, found = {start}, [start], []
    for hop in range(1, depth + 1):
        nxt = []
        for node in frontier:
            for other, version in sorted(step[node].items()):
                if other in seen:
                    continue
                seen.add(other)
                nxt.append(other)
                target = mesh.products[other]
                found.append(
                    {
                        "product": other,
                        "domain": target.domain,
                        "kind": target.descriptor.product_kind.value,
                        "implementation": target.descriptor.implementation.engine,
                        "depth": hop,
                        "via": node,
                        "port_version": version,
                        "cross_domain": target.domain != mesh.products[node].domain,
                    }
                )
        frontier = nxt
    return found


def _columns(origins: dict[str, ColumnOrigin]) -> dict[str, dict[str, Any]]:
    return {
        column: {
            "transformation": origin.subtype,
            "from": [{"kind": i.relation.kind, "dataset": i.relation.name, "column": i.column} for i in origin.inputs],
            # Columns that only decide the value (a CASE condition, an aggregate's FILTER): INDIRECT.
            "decided_by": [
                {"kind": i.relation.kind, "dataset": i.relation.name, "column": i.column, "how": how}
                for i, how in origin.indirect
            ],
        }
        for column, origin in origins.items()
    }


def _port_name(product: Product, version: str) -> str:
    return f"{product.domain}/{product.name}/{version}"


def product_lineage(mesh: Mesh, key: str, depth: int = 3) -> dict[str, Any]:
    """Upstream and downstream products of ``key`` and the lineage of its columns (KeyError if unknown)."""
    product = mesh.products[key]
    ups, downs = edges(mesh)
    upstream = _walk(mesh, key, ups, depth)
    downstream = _walk(mesh, key, downs, depth)
    origins, _sql, rows_decided_by = dbt_column_lineage(mesh, product)
    # Columns of direct consumers computed from this product's port: impact of a change, per column.
    published = {_port_name(product, p.version) for p in product.ports}
    used_by = []
    for consumer in (mesh.products[d["product"]] for d in downstream if d["depth"] == 1):
        consumer_origins, _, consumer_rows = dbt_column_lineage(mesh, consumer)
        for column, origin in consumer_origins.items():
            uses = [(i, "DIRECT") for i in origin.inputs] + list(origin.indirect)
            for source, how in uses:
                if source.relation.kind == "port" and source.relation.name in published:
                    used_by.append({"column": source.column, "consumer": consumer.key, "as": column, "how": how})
        for source, how in consumer_rows:  # deciding which rows the consumer has (filter, join, group by)
            if source.relation.kind == "port" and source.relation.name in published:
                used_by.append({"column": source.column, "consumer": consumer.key, "as": "(rows)", "how": how})
    return {
        "product": key,
        "domain": product.domain,
        "kind": product.descriptor.product_kind.value,
        "implementation": product.descriptor.implementation.engine,
        "ports": [_port_name(product, p.version) for p in product.ports],
        "depth": depth,
        "upstream": upstream,
        "downstream": downstream,
        "columns": _columns(origins),
        "columns_known": bool(origins),
        "rows_decided_by": [
            {"kind": i.relation.kind, "dataset": i.relation.name, "column": i.column, "how": how}
            for i, how in rows_decided_by
        ],
        "columns_used_downstream": sorted(used_by, key=lambda u: (u["column"], u["consumer"], u["as"], u["how"])),
    }


def render(result: dict[str, Any]) -> str:
    """The human-readable form of :func:`product_lineage`."""
    lines = [f"{result['product']} ({result['kind']}, {result['implementation']}), ports {', '.join(result['ports'])}"]
    for side in ("upstream", "downstream"):
        lines.append(f"\n{side} (up to {result['depth']} hops):")
        if not result[side]:
            lines.append("  (none)")
        for item in result[side]:
            cross = ", cross-domain" if item["cross_domain"] else ""
            lines.append(
                f"  {'  ' * (item['depth'] - 1)}{item['product']}@{item['port_version']}"
                f"  [{item['kind']}, {item['implementation']}{cross}]"
            )
    lines.append("\ncolumns:")
    if not result["columns_known"]:
        why = "a Python product" if result["implementation"] == "python" else "no dbt run of this domain yet"
        lines.append(f"  (not known: {why})")
    for column, info in result["columns"].items():
        sources = ", ".join(f"{s['dataset']}.{s['column']}" for s in info["from"]) or "(no column: e.g. count(*))"
        decided = "".join(f", decided by {s['dataset']}.{s['column']} ({s['how']})" for s in info["decided_by"])
        lines.append(f"  {column:<24} <- {sources}  [{info['transformation']}]{decided}")
    if result["rows_decided_by"]:
        rows = ", ".join(f"{s['dataset']}.{s['column']} ({s['how']})" for s in result["rows_decided_by"])
        lines.append(f"  (rows)                   <- {rows}")
    if result["columns_used_downstream"]:
        lines.append("\ncolumns read downstream:")
        for use in result["columns_used_downstream"]:
            lines.append(f"  {use['column']:<24} -> {use['consumer']}.{use['as']}  [{use['how']}]")
    return "\n".join(lines)
