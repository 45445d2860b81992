"""The whole example mesh built through Meshwork against the same work as one plain DuckDB script.

For each scale: generate the source files once, then, interleaved ``--repeat`` times, (a) ``mesh
build`` (Dagster, dbt, validation, publish, audit; every domain a ``dagster job execute`` of its build job) and
(b) ``benchmarks.baseline`` (the same SQL and Parquet writes in one process), each in a fresh
MESH_HOME copy of the sources, with the peak resident memory of its whole process tree. Medians and
the ratio to the baseline measured in the same run.

    .venv/bin/python -m benchmarks.mesh_build --orders 100000 1000000 --repeat 3 --json out.json

``--dbt-subprocess-too`` also builds the mesh with dbt run as a subprocess (``MESH_DBT_IN_PROCESS=0``),
interleaved with the default in-process runs, and reports both side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from meshwork.runtime.build import PeakMemory

BIN = Path(sys.executable).parent


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}


def mesh_run(sources: Path, work: Path, extra_env: dict[str, str] | None = None) -> dict:
    home = work / "mesh"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(sources, home / "sources")
    env = {**_env(home), **(extra_env or {})}
    out = subprocess.run([str(BIN / "mesh"), "build", "--json"], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"mesh build failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout)
    return {
        "seconds": result["seconds"],
        "peak_rss": result["peak_rss_bytes"],
        "domains": {d["domain"]: d["seconds"] for d in result["domains"]},
        "phases": {d["domain"]: phases(Path(d["log"]), d["seconds"]) for d in result["domains"]},
        "home": home,
    }


_STEP = re.compile(r'Finished execution of step "(?P<step>[^"]+)" in (?P<value>[\d.]+)(?P<unit>ms|s)\.')
_DBT = re.compile(r"Finished running .* in .*\((?P<seconds>[\d.]+)s\)")


def phases(log: Path, wall: float) -> dict[str, float]:
    """Where a domain run's wall time goes, from its `dagster job execute` log.

    steps: each step's own duration as Dagster reports it; dbt_models: what dbt says its models and
    tests took (the rest of the dbt step is dbt start-up, parsing and event streaming); outside_steps:
    process start, imports, loading definitions, creating and finishing the run.
    """
    text = log.read_text(errors="replace")
    steps = {m["step"]: float(m["value"]) / (1000 if m["unit"] == "ms" else 1) for m in _STEP.finditer(text)}
    dbt = sum(float(m["seconds"]) for m in _DBT.finditer(text))
    dbt_step = sum(v for k, v in steps.items() if k.endswith("__dbt"))
    gates = sum(v for k, v in steps.items() if k.endswith("_contract"))
    python = sum(v for k, v in steps.items() if not k.endswith(("__dbt", "_contract")))
    return {
        "wall": round(wall, 2),
        "outside_steps": round(wall - sum(steps.values()), 2),
        "dbt_models": round(dbt, 2),
        "dbt_overhead": round(dbt_step - dbt, 2),
        "python_products": round(python, 2),
        "contract_gates": round(gates, 2),
    }


def baseline_run(mesh_home: Path, work: Path) -> dict:
    out_dir = work / "baseline"
    shutil.rmtree(out_dir, ignore_errors=True)
    with PeakMemory() as memory:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.baseline", "--mesh-home", str(mesh_home), "--out", str(out_dir)],
            env=_env(mesh_home),
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"baseline failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # Wall time of the process, imports included, like `mesh build`; the script's own time beside it.
    return {"seconds": wall, "script_seconds": result["seconds"], "peak_rss": memory.peak, "domains": result["domains"]}


SUBPROCESS = {"MESH_DBT_IN_PROCESS": "0"}


def _summary(runs: list[dict]) -> dict:
    domains = sorted(runs[0]["domains"])
    keys = list(runs[0]["phases"][domains[0]])
    return {
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "peak_rss_mib": round(max(r["peak_rss"] for r in runs) / 2**20),
        # Median of each phase over the runs, per domain.
        "phases": {d: {k: round(statistics.median(r["phases"][d][k] for r in runs), 2) for k in keys} for d in domains},
    }


def measure(orders: int, repeat: int, tmp: Path, subprocess_too: bool = False) -> dict:
    sources = tmp / f"sources-{orders}"
    gen_home = tmp / f"gen-{orders}"
    subprocess.run(
        [str(BIN / "mesh"), "generate", "--orders", str(orders)], env=_env(gen_home), check=True, capture_output=True
    )
    shutil.move(gen_home / "sources", sources)
    runs: dict[str, list[dict]] = {"mesh": [], "baseline": [], "subprocess": []}
    for i in range(repeat):
        if subprocess_too:  # A/B/A/B: the variants see the same machine load
            runs["subprocess"].append(mesh_run(sources, tmp, SUBPROCESS))
        mesh = mesh_run(sources, tmp)
        runs["mesh"].append(mesh)
        # The baseline executes the SQL dbt compiled in this very build.
        runs["baseline"].append(baseline_run(mesh["home"], tmp))
        print(
            f"  {orders:,} orders, run {i + 1}/{repeat}: mesh {mesh['seconds']:.1f}s, "
            f"baseline {runs['baseline'][-1]['seconds']:.1f}s"
            + (f", mesh with dbt subprocess {runs['subprocess'][-1]['seconds']:.1f}s" if subprocess_too else ""),
            file=sys.stderr,
            flush=True,
        )
    shutil.rmtree(sources)
    mesh_s = statistics.median(r["seconds"] for r in runs["mesh"])
    base_s = statistics.median(r["seconds"] for r in runs["baseline"])
    domains = sorted(runs["mesh"][0]["domains"])
    return {
        "orders": orders,
        "mesh_seconds": round(mesh_s, 2),
        "baseline_seconds": round(base_s, 2),
        "baseline_script_seconds": round(statistics.median(r["script_seconds"] for r in runs["baseline"]), 2),
        "ratio": round(mesh_s / base_s, 2),
        "mesh_peak_rss_mib": round(max(r["peak_rss"] for r in runs["mesh"]) / 2**20),
        "baseline_peak_rss_mib": round(max(r["peak_rss"] for r in runs["baseline"]) / 2**20),
        # Per domain: a Meshwork domain run (subprocess, Dagster, dbt, gate) vs the same SQL in the script.
        "domain_seconds": {
            d: {
                "mesh": round(statistics.median(r["domains"][d] for r in runs["mesh"]), 2),
                "baseline": round(statistics.median(r["domains"][d] for r in runs["baseline"]), 3),
            }
            for d in domains
        },
        "phases_of_last_run": runs["mesh"][-1]["phases"],
        "phases_median": _summary(runs["mesh"])["phases"],
        **({"dbt_subprocess": _summary(runs["subprocess"])} if subprocess_too else {}),
        "repeat": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--dbt-subprocess-too", action="store_true", help="also build with MESH_DBT_IN_PROCESS=0, interleaved"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="mesh-bench-") as tmp:
        for orders in args.orders:
            print(f"{orders:,} orders …", file=sys.stderr, flush=True)
            results.append(measure(orders, args.repeat, Path(tmp), args.dbt_subprocess_too))
    print("| orders | Meshwork (s) | DuckDB script (s) | ratio | Meshwork peak (MiB) | script peak (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['orders']:,} | {r['mesh_seconds']} | {r['baseline_seconds']} | {r['ratio']}x | "
            f"{r['mesh_peak_rss_mib']} | {r['baseline_peak_rss_mib']} |"
        )
    print("\nWhere a domain run's time goes (last run of the smallest scale, seconds):")
    print("| domain | wall | outside steps | dbt models | dbt overhead | python products | contract gates |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for domain, p in sorted(results[0]["phases_of_last_run"].items()):
        print(
            f"| {domain} | {p['wall']} | {p['outside_steps']} | {p['dbt_models']} | {p['dbt_overhead']} | "
            f"{p['python_products']} | {p['contract_gates']} |"
        )
    for r in results:
        if "dbt_subprocess" not in r:
            continue
        sub = r["dbt_subprocess"]
        print(f"\n{r['orders']:,} orders, dbt in process / dbt subprocess, medians of {r['repeat']} interleaved runs:")
        print(f"whole build: {r['mesh_seconds']}s vs {sub['seconds']}s ({r['mesh_seconds'] / sub['seconds']:.2f}x)")
        print("| domain | wall | outside steps | dbt models | dbt overhead | python products | contract gates |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for domain, p in sorted(r["phases_median"].items()):
            q = sub["phases"][domain]
            cells = " | ".join(f"{p[k]} / {q[k]}" for k in p)
            print(f"| {domain} | {cells} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
