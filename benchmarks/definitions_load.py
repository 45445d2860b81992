"""Definitions load time of one code location holding 100 or 1000 products.

A synthetic project (the catalog benchmark's generator: descriptors and ODCS contracts, here with
one Python module per product) is loaded the way Dagster loads a location: a fresh process imports
``domains.<d>.definitions`` and builds its Definitions (mesh load and checks, policies at load,
asset specs, gates, schedules). Baseline in the same run: a fresh process that only imports dagster.

    .venv/bin/python -m benchmarks.definitions_load --products 100 1000
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
from pathlib import Path

from benchmarks.catalog import generate

LOAD = "import domains.d000.definitions as d; defs = d.defs(); print(len(list(defs.resolve_all_asset_specs())))"
FLOOR = "import dagster"


def make_project(root: Path, home: Path, products: int) -> None:
    generate(root, home, domains=1, per_domain=products)
    domain = root / "domains" / "d000"
    (root / "domains" / "__init__.py").write_text("")
    (domain / "__init__.py").write_text("")
    (domain / "products" / "__init__.py").write_text("")
    (domain / "definitions.py").write_text(
        "import dagster as dg\n\nfrom meshwork.locations.domain import domain_definitions\n\n\n"
        '@dg.definitions\ndef defs() -> dg.Definitions:\n    return domain_definitions("d000")\n'
    )
    for descriptor in (domain / "products").glob("*.yaml"):
        name = descriptor.stem
        # Policy-clean at load: the synthetic contracts hold a PII column.
        text = descriptor.read_text().replace(
            f"  - contract: ../contracts/{name}.odcs.yaml\n",
            f"  - contract: ../contracts/{name}.odcs.yaml\n    visibility: restricted\n",
        )
        descriptor.write_text(text + "retention: 365d\n")
        (domain / "products" / f"{name}.py").write_text("def build(ctx):\n    return ctx.con.sql('SELECT 1 AS id')\n")
    (root / "dbt_project").mkdir()


def timed(code: str, env: dict[str, str], cwd: Path, repeat: int) -> tuple[float, str]:
    seconds, out = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        out = done.stdout.strip()
    return statistics.median(seconds), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    for n in args.products:
        with tempfile.TemporaryDirectory(prefix="defs-bench-") as tmp:
            root, home = Path(tmp) / "project", Path(tmp) / "home"
            make_project(root, home, n)
            env = {**os.environ, "MESH_PROJECT_DIR": str(root), "MESH_HOME": str(home), "DAGSTER_HOME": str(home)}
            print(f"{n} products …", file=sys.stderr, flush=True)
            floor, _ = timed(FLOOR, env, root, args.repeat)
            load, specs = timed(LOAD, env, root, args.repeat)
            assert int(specs) == n, f"expected {n} asset specs, got {specs}"
            results.append(
                {"products": n, "load_seconds": round(load, 2), "import_dagster_seconds": round(floor, 2),
                 "above_floor_seconds": round(load - floor, 2)}
            )  # fmt: skip
    print("| products in the location | load (s) | `import dagster` alone (s) | above that floor (s) |")
    print("|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['products']:,} | {r['load_seconds']} | {r['import_dagster_seconds']} | {r['above_floor_seconds']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
