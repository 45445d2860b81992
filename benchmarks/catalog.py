"""Catalog build time on a synthetic mesh of many products, against baselines measured in the same run.

Generates a throw-away project of D domains x M products (descriptors and ODCS contracts, each
product reading one or two products of the previous domain, one published snapshot manifest per
port; no data files), then times, in one warm process and interleaved:

- ``load_mesh``: parsing and checking every descriptor and contract (what every `mesh` command pays);
- ``catalog``: ``load_mesh`` + ``meshwork.catalog.site.build`` (what `mesh catalog build` does after start-up);
- ``json files``: writing one json.dumps file per product plus an index (the floor for any static site);

and once each: the first build (its contracts not yet in the ODCS validation cache) and the whole
`mesh catalog build` command in a fresh process (imports included).

    .venv/bin/python -m benchmarks.catalog --products 1000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

COLUMNS = [
    ("id", "integer", "BIGINT", "internal"),
    ("customer_id", "integer", "BIGINT", "internal"),
    ("email", "string", "VARCHAR", "pii"),
    ("amount", "number", "DECIMAL(12,2)", "internal"),
    ("status", "string", "VARCHAR", "internal"),
    ("country", "string", "VARCHAR", "public"),
    ("created_at", "timestamp", "TIMESTAMP", "internal"),
    ("updated_at", "timestamp", "TIMESTAMP", "internal"),
]


def contract(domain: str, product: str) -> str:
    props = []
    for name, logical, physical, cls in COLUMNS:
        extra = ", primaryKey: true, required: true, unique: true" if name == "id" else ""
        if name == "status":
            extra = ", required: true, logicalTypeOptions: {maxLength: 20}"
        props.append(
            f'      - {{name: {name}, logicalType: {logical}, physicalType: "{physical}", classification: {cls}'
            f'{extra}, description: "The {name} of a {product} row."}}'
        )
    return "\n".join(
        [
            "apiVersion: v3.1.0",
            "kind: DataContract",
            f"id: {domain}.{product}",
            f"name: {product}",
            "version: 1.0.0",
            "status: active",
            f"domain: {domain}",
            f"dataProduct: {product}",
            "schema:",
            f"  - name: {product}",
            "    physicalType: table",
            "    quality:",
            "      - {metric: rowCount, mustBeGreaterThan: 0}",
            "    properties:",
            *props,
            "",
        ]
    )


def descriptor(domain: str, product: str, inputs: list[str], i: int) -> str:
    kind = "aggregate" if inputs else "source-aligned"
    lines = [
        "apiVersion: v1.0.0",
        "kind: DataProduct",
        f"id: {domain}.{product}",
        f"name: {product}",
        f"domain: {domain}",
        f"productKind: {kind}",
        "description:",
        f"  purpose: Synthetic product number {i} of the {domain} domain, for the catalog benchmark.",
        "  usage: Join on id.",
        "implementation: {engine: python}",
        "outputPorts:",
        f"  - contract: ../contracts/{product}.odcs.yaml",
        "sla:",
        "  freshness: 26h",
        *(['  schedule: "0 2 * * *"'] if not inputs else []),
        f"tags: [synthetic, group{i % 7}]",
    ]
    if inputs:
        lines.append("inputPorts:")
        lines += [f"  - {{product: {ref}, version: v1}}" for ref in inputs]
    return "\n".join(lines) + "\n"


def generate(root: Path, home: Path, domains: int, per_domain: int) -> None:
    """The synthetic project under ``root`` and one published manifest per port under ``home``."""
    workspace = ["load_from:"]
    now = datetime.now(UTC)
    for d in range(domains):
        domain = f"d{d:03d}"
        workspace.append(f"  - python_module: domains.{domain}.definitions")
        base = root / "domains" / domain
        (base / "products").mkdir(parents=True)
        (base / "contracts").mkdir()
        (base / "domain.yaml").write_text(
            f"name: {domain}\ndescription: Synthetic domain {d}.\nowner: {{team: team-{d}, email: t{d}@example.com}}\n"
        )
        for p in range(per_domain):
            product = f"p{p:03d}"
            # Each product reads one or two products of the previous domain: a layered DAG.
            inputs = [f"d{d - 1:03d}/p{(p + k) % per_domain:03d}" for k in range(1 + p % 2)] if d else []
            (base / "products" / f"{product}.yaml").write_text(descriptor(domain, product, inputs, p))
            (base / "contracts" / f"{product}.odcs.yaml").write_text(contract(domain, product))
            published = now - timedelta(minutes=domains - d)
            snapshot = published.strftime("%Y%m%dT%H%M%S%fZ") + "-bench000"
            folder = home / "ports" / domain / product / "v1" / snapshot
            folder.mkdir(parents=True)
            manifest = {
                "domain": domain,
                "product": product,
                "version": "v1",
                "snapshot_id": snapshot,
                "contract_id": f"{domain}.{product}",
                "contract_version": "1.0.0",
                "columns": [{"name": c[0], "type": c[2]} for c in COLUMNS],
                "row_count": 1000 + p,
                "files": [],
                "run_id": "bench000",
                "created_at": published.isoformat(),
                "environment": "bench",
            }
            (folder / "_manifest.json").write_text(json.dumps(manifest))
            (folder.parent / "latest").write_text(snapshot + "\n")
    (root / "workspace.yaml").write_text("\n".join(workspace) + "\n")


def timed(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median wall and CPU seconds; CPU time is the steadier figure on a machine shared with others."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu), "min_wall": min(wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--per-domain", type=int, default=50, help="products per domain")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    domains = max(1, args.products // args.per_domain)

    with tempfile.TemporaryDirectory(prefix="meshwork-catalog-bench-") as tmp:
        root, home = Path(tmp) / "project", Path(tmp) / "home"
        generate(root, home, domains, args.per_domain)
        os.environ.update(MESH_HOME=str(home), MESH_PROJECT_DIR=str(root), DAGSTER_HOME=str(home / "dagster"))
        from meshwork.authoring.upgrade import upgrade
        from meshwork.catalog import site
        from meshwork.model.loader import load_mesh

        # The generator writes Meshwork's older descriptor form (definitions_load.py edits it before
        # upgrading): `mesh upgrade` makes the descriptors ODPS documents.
        if errors := upgrade(root).errors:
            raise RuntimeError(f"mesh upgrade of the synthetic project failed: {errors[:3]}")

        n = domains * args.per_domain
        out = Path(tmp) / "site"

        def json_files() -> None:
            target = Path(tmp) / "json"
            for d in sorted((root / "domains").iterdir()):
                for f in sorted((d / "products").glob("*.yaml")):
                    page = target / d.name / f"{f.stem}.json"
                    page.parent.mkdir(parents=True, exist_ok=True)
                    page.write_text(json.dumps({"descriptor": f.read_text(), "contract": ""}))
            (target / "index.json").write_text(json.dumps(sorted(str(p) for p in target.rglob("*.json"))))

        def build() -> None:
            site.build(load_mesh(), out)

        start = time.perf_counter()
        build()  # the first build also fills the ODCS validation cache and compiles the templates
        cold = time.perf_counter() - start
        results = {}
        for name, fn in (("json files", json_files), ("load_mesh", load_mesh), ("catalog", build)):
            results[name] = timed(fn, args.repeat)
        start = time.perf_counter()
        cli = subprocess.run(
            [str(Path(sys.executable).parent / "mesh"), "catalog", "build", "--out", str(out), "--json"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        cli_seconds = time.perf_counter() - start
        assert cli.returncode == 0, cli.stderr
        pages = len(list(out.glob("*/*.html")))
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())

    print(f"{n} products in {domains} domains ({pages} pages, {size / 2**20:.1f} MiB written), {args.repeat} runs")
    print(f"{'step':<12} {'wall median (s)':>16} {'wall min (s)':>13} {'CPU median (s)':>15}")
    for name, r in results.items():
        print(f"{name:<12} {r['wall']:>16.3f} {r['min_wall']:>13.3f} {r['cpu']:>15.3f}")
    c, lm, js = results["catalog"], results["load_mesh"], results["json files"]
    print(
        f"catalog / load_mesh: {c['cpu'] / lm['cpu']:.2f}x CPU; catalog / json files: {c['cpu'] / js['cpu']:.1f}x CPU"
    )
    print(f"first catalog build (cold ODCS validation cache, in process): {cold:.2f}s wall")
    print(f"`mesh catalog build` in a fresh process (imports included): {cli_seconds:.2f}s wall")
    print(
        f"target <= 5 s for 1000 products (catalog, wall median): {'met' if c['wall'] <= 5 * n / 1000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
