"""Orchestration overhead: a synthetic mesh of D domains x M products built through Meshwork.

The catalog benchmark's generator writes D domains of M Python products (8-column ODCS contracts;
each product of domain d reads one or two products of domain d-1, so the domains form a chain).
Every product builds a tiny table (`--rows`), so what is measured is orchestration: `mesh build` (a
run per domain under its code location, forked from the build's warm worker), one step and one
blocking contract gate per product, port reads, publishes and audit records. Baseline in the same
run, interleaved: the same SQL and Parquet writes as one plain DuckDB script in one process.

    .venv/bin/python -m benchmarks.orchestration --shape 5x4 20x50 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.catalog import generate

BIN = Path(sys.executable).parent

SOURCE_SQL = (
    "SELECT range::BIGINT AS id, (range % 97)::BIGINT AS customer_id, 'user' || range AS email, "
    "(range % 1000 / 10)::DECIMAL(12,2) AS amount, 'open' AS status, 'FR' AS country, "
    "TIMESTAMP '2026-01-01' + to_seconds(range) AS created_at, "
    "TIMESTAMP '2026-01-02' + to_seconds(range) AS updated_at FROM range({rows})"
)

SOURCE = """def build(ctx):
    return ctx.con.sql({sql!r})
"""

DERIVED = """def build(ctx):
    return ctx.input("{upstream}")
"""


def make_project(root: Path, domains: int, per_domain: int, rows: int) -> list[tuple[str, str, str | None]]:
    """Write the project; return (domain, product, upstream or None) in build order."""
    scratch = root.parent / "generator-home"  # the generator also writes fake manifests: not wanted here
    generate(root, scratch, domains=domains, per_domain=per_domain)
    shutil.rmtree(scratch)
    (root / "domains" / "__init__.py").write_text("")
    workspace = ["load_from:"]
    plan = []
    for d in range(domains):
        domain = f"d{d:03d}"
        base = root / "domains" / domain
        (base / "__init__.py").write_text("")
        (base / "products" / "__init__.py").write_text("")
        (base / "definitions.py").write_text(
            "import dagster as dg\n\nfrom meshwork.locations.domain import domain_definitions\n\n\n"
            f'@dg.definitions\ndef defs() -> dg.Definitions:\n    return domain_definitions("{domain}")\n'
        )
        workspace += [
            "  - python_module:",
            f"      module_name: domains.{domain}.definitions",
            f"      location_name: {domain}",
        ]
        for contract in (base / "contracts").glob("*.odcs.yaml"):
            # No PII here: public ports need no grants, and the e-mail column holds no address.
            contract.write_text(contract.read_text().replace("classification: pii", "classification: internal"))
        for p in range(per_domain):
            product = f"p{p:03d}"
            upstream = f"d{d - 1:03d}/p{p:03d}" if d else None
            code = DERIVED.format(upstream=upstream) if upstream else SOURCE.format(sql=SOURCE_SQL.format(rows=rows))
            (base / "products" / f"{product}.py").write_text(code)
            plan.append((domain, product, upstream))
    (root / "workspace.yaml").write_text("\n".join(workspace) + "\n")
    (root / "dbt_project").mkdir()
    return plan


def env_for(root: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MESH_PROJECT_DIR": str(root),
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
    }


def mesh_build(root: Path, work: Path) -> dict:
    home = work / "mesh"
    shutil.rmtree(home, ignore_errors=True)
    out = subprocess.run(
        [str(BIN / "mesh"), "build", "--json"], env=env_for(root, home), cwd=root, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"mesh build failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout)
    return {"seconds": result["seconds"], "domains": [d["seconds"] for d in result["domains"]]}


BASELINE = """
import sys, duckdb, json, pathlib
plan, out, source = json.loads(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
con = duckdb.connect(str(out / "all.duckdb"), config={"threads": 2, "memory_limit": "2GB"})
for domain, product, upstream in plan:
    target = out / domain / product
    target.mkdir(parents=True)
    if upstream:
        sql = f"SELECT * FROM read_parquet('{out}/{upstream}/data.parquet')"
    else:
        sql = source
    con.execute(f"CREATE OR REPLACE TABLE {domain}_{product} AS {sql}")
    con.execute(f"COPY {domain}_{product} TO '{target}/data.parquet' (FORMAT parquet)")
"""


def baseline(plan: list, rows: int, work: Path) -> float:
    out = work / "baseline"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", BASELINE, json.dumps(plan), str(out), SOURCE_SQL.format(rows=rows)], check=True
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", nargs="+", default=["5x4"], help="DOMAINSxPRODUCTS, e.g. 5x4 20x50")
    parser.add_argument("--rows", type=int, default=100, help="rows per source product")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = []
    for shape in args.shape:
        domains, per_domain = (int(x) for x in shape.lower().split("x"))
        with tempfile.TemporaryDirectory(prefix="orchestration-bench-") as tmp:
            root = Path(tmp) / "project"
            plan = make_project(root, domains, per_domain, args.rows)
            runs, floors = [], []
            for i in range(args.repeat):
                print(f"{shape}: run {i + 1}/{args.repeat}: mesh build …", file=sys.stderr, flush=True)
                runs.append(mesh_build(root, Path(tmp)))
                floors.append(baseline(plan, args.rows, Path(tmp)))
            wall = statistics.median(r["seconds"] for r in runs)
            per_domain_run = statistics.median(s for r in runs for s in r["domains"])
            floor = statistics.median(floors)
            results.append(
                {
                    "shape": shape,
                    "products": domains * per_domain,
                    "mesh_seconds": round(wall, 1),
                    "baseline_seconds": round(floor, 2),
                    "ratio": round(wall / floor, 1),
                    "median_domain_run_seconds": round(per_domain_run, 1),
                    "seconds_per_product": round(wall / (domains * per_domain), 2),
                }
            )
    print("| domains x products | Meshwork (s) | DuckDB script (s) | ratio | median domain run (s) | s per product |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['shape']} | {r['mesh_seconds']} | {r['baseline_seconds']} | {r['ratio']}x | "
            f"{r['median_domain_run_seconds']} | {r['seconds_per_product']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
