"""Definitions load time of one code location holding 100 or 1000 products, cold and warm.

A synthetic project (the catalog benchmark's generator: descriptors and ODCS contracts, here with
one Python module per product) is loaded the way Dagster loads a location: a fresh process imports
``domains.<d>.definitions`` and builds its Definitions (mesh load and checks, policies at load,
asset specs, gates, schedules) and resolves its asset specs.

- cold: the first load ever: a fresh ``MESH_HOME`` (no parsed-document or validation cache) and no
  bytecode for the project's own modules. The OS file cache is not dropped (that would slow every
  other process on a shared machine); a load straight after a reboot also pays the disk reads.
- warm: the same project loaded again in a new process, its ``MESH_HOME`` caches filled.
- baseline in the same run: a fresh process that only imports dagster (the floor no load goes under).

Wall and CPU seconds (the child's user + system time: the steadier figure on a loaded machine) are
medians of ``--repeat`` runs; cold and warm runs are interleaved so both see the same machine load.

    .venv/bin/python -m benchmarks.definitions_load --products 100 1000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
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
        descriptor.write_text(text + "status: active\nretention: 365d\n")
        (domain / "products" / f"{name}.py").write_text("def build(ctx):\n    return ctx.con.sql('SELECT 1 AS id')\n")
    (root / "dbt_project").mkdir()
    if importlib.util.find_spec("meshwork.authoring.odps_upgrade") is not None:
        # The generator writes Meshwork's older descriptor form; `mesh upgrade` makes them ODPS
        # documents. (The same harness on a checkout from before ODPS descriptors skips this.)
        from meshwork.authoring.upgrade import upgrade

        if errors := upgrade(root).errors:
            raise RuntimeError(f"mesh upgrade of the synthetic project failed: {errors[:3]}")


def run(code: str, env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system of the child) of one fresh process running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout.strip()


def fresh_home(template: Path, target: Path) -> Path:
    """A copy of the generated MESH_HOME (published manifests only: no cache, no instance)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(template, target)
    return target


def measure(n: int, repeat: int, tmp: Path) -> dict[str, float | int]:
    root, template = tmp / "project", tmp / "home-template"
    make_project(root, template, n)
    warm_home = fresh_home(template, tmp / "home-warm")

    def env(home: Path) -> dict[str, str]:
        return {**os.environ, "MESH_PROJECT_DIR": str(root), "MESH_HOME": str(home), "DAGSTER_HOME": str(home)}

    run(LOAD, env(warm_home), root)  # fills the warm home's caches (and the project's bytecode)
    samples: dict[str, list[tuple[float, float]]] = {"floor": [], "cold": [], "warm": []}
    for i in range(repeat):
        print(f"{n} products, round {i + 1}/{repeat} …", file=sys.stderr, flush=True)
        wall, cpu, _ = run(FLOOR, env(warm_home), root)
        samples["floor"].append((wall, cpu))
        for cache in root.rglob("__pycache__"):
            shutil.rmtree(cache)
        wall, cpu, specs = run(LOAD, env(fresh_home(template, tmp / "home-cold")), root)
        assert int(specs) == n, f"expected {n} asset specs, got {specs}"
        samples["cold"].append((wall, cpu))
        wall, cpu, specs = run(LOAD, env(warm_home), root)
        assert int(specs) == n, f"expected {n} asset specs, got {specs}"
        samples["warm"].append((wall, cpu))
    result: dict[str, float | int] = {"products": n}
    for name, values in samples.items():
        result[f"{name}_wall"] = round(statistics.median(w for w, _ in values), 2)
        result[f"{name}_cpu"] = round(statistics.median(c for _, c in values), 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    for n in args.products:
        with tempfile.TemporaryDirectory(prefix="defs-bench-") as tmp:
            results.append(measure(n, args.repeat, Path(tmp)))
    print(
        "| products in the location | cold wall (s) | cold CPU (s) | warm wall (s) | warm CPU (s) "
        "| `import dagster` wall (s) | warm above that floor (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        above = round(float(r["warm_wall"]) - float(r["floor_wall"]), 2)
        print(
            f"| {r['products']:,} | {r['cold_wall']} | {r['cold_cpu']} | {r['warm_wall']} | {r['warm_cpu']} "
            f"| {r['floor_wall']} | {above} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
