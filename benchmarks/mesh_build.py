"""The whole example mesh built through Meshwork against the same work as one plain DuckDB script.

For each scale: generate the source files once, then, interleaved ``--repeat`` times, (a) ``mesh
build`` (Dagster, dbt, validation, publish, audit; every domain a run of its build job under its code
location, then the metrics run) and (b) ``benchmarks.baseline`` (the same SQL and Parquet writes in
one process), each in a fresh MESH_HOME copy of the sources. Both are timed the same way: the wall
time of the whole command (start-up included), the CPU time of its whole process tree (user + sys,
which machine load does not inflate), and the peak memory of the tree sampled every 0.2 s (PSS:
pages shared by forked processes counted once; the sum of RSS beside it). Medians and the ratio to
the baseline measured in the same run.

    .venv/bin/python -m benchmarks.mesh_build --orders 100000 1000000 --repeat 3 --json out.json

``--fresh-process-too`` also builds the mesh with a fresh process per run (``MESH_WARM_WORKER=0``) and
``--dbt-subprocess-too`` with dbt as a subprocess (``MESH_DBT_IN_PROCESS=0``), interleaved with the
default runs, and reports them side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
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


def timed(command: list[str], env: dict[str, str]) -> dict:
    """Run ``command``: its wall time, the CPU time of its process tree, its tree's peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakMemory(pid=proc.pid) as memory:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process of the tree was waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "returncode": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak": memory.peak,
        "peak_rss_sum": memory.peak_rss,
    }


def mesh_run(sources: Path, work: Path, extra_env: dict[str, str] | None = None) -> dict:
    home = work / "mesh"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(sources, home / "sources")
    out = timed([str(BIN / "mesh"), "build", "--json"], {**_env(home), **(extra_env or {})})
    if out["returncode"] != 0:
        kept = Path(tempfile.mkdtemp(prefix="mesh-bench-failed-"))
        if (home / "logs").exists():
            shutil.copytree(home / "logs", kept / "logs", dirs_exist_ok=True)
        raise RuntimeError(f"mesh build failed (logs: {kept}):\n{out['stdout'][-3000:]}\n{out['stderr'][-3000:]}")
    result = json.loads(out["stdout"])
    return {
        "seconds": out["seconds"],  # the whole command, metrics run included
        "build_seconds": result["seconds"],  # the domains' runs only, as `mesh build` reports it
        "cpu_seconds": out["cpu_seconds"],
        "peak": out["peak"],
        "peak_rss_sum": out["peak_rss_sum"],
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
    outside = wall - sum(steps.values())
    return {
        "wall": round(wall, 2),
        # What a domain run costs besides its work: outside the steps, plus dbt's own overhead.
        "fixed": round(outside + max(0.0, dbt_step - dbt), 2),
        "outside_steps": round(outside, 2),
        "dbt_models": round(dbt, 2),
        "dbt_overhead": round(dbt_step - dbt, 2),
        "python_products": round(python, 2),
        "contract_gates": round(gates, 2),
    }


def baseline_run(mesh_home: Path, work: Path) -> dict:
    out_dir = work / "baseline"
    shutil.rmtree(out_dir, ignore_errors=True)
    command = [sys.executable, "-m", "benchmarks.baseline", "--mesh-home", str(mesh_home), "--out", str(out_dir)]
    out = timed(command, _env(mesh_home))
    if out["returncode"] != 0:
        raise RuntimeError(f"baseline failed:\n{out['stderr'][-3000:]}")
    result = json.loads(out["stdout"].strip().splitlines()[-1])
    # Wall time of the process, imports included, like `mesh build`; the script's own time beside it.
    return {**out, "script_seconds": result["seconds"], "domains": result["domains"]}


VARIANTS = {"fresh_process": {"MESH_WARM_WORKER": "0"}, "dbt_subprocess": {"MESH_DBT_IN_PROCESS": "0"}}


def _summary(runs: list[dict]) -> dict:
    domains = sorted(runs[0]["domains"])
    keys = list(runs[0]["phases"][domains[0]])
    return {
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
        "peak_mib": round(max(r["peak"] for r in runs) / 2**20),
        "peak_rss_sum_mib": round(max(r["peak_rss_sum"] for r in runs) / 2**20),
        # Median of each phase over the runs, per domain.
        "phases": {d: {k: round(statistics.median(r["phases"][d][k] for r in runs), 2) for k in keys} for d in domains},
    }


def measure(orders: int, repeat: int, tmp: Path, variants: list[str]) -> dict:
    sources = tmp / f"sources-{orders}"
    gen_home = tmp / f"gen-{orders}"
    subprocess.run(
        [str(BIN / "mesh"), "generate", "--orders", str(orders)], env=_env(gen_home), check=True, capture_output=True
    )
    shutil.move(gen_home / "sources", sources)
    runs: dict[str, list[dict]] = {"mesh": [], "baseline": [], **{v: [] for v in variants}}
    for i in range(repeat):
        for variant in variants:  # A/B/A/B: the variants see the same machine load
            runs[variant].append(mesh_run(sources, tmp, VARIANTS[variant]))
        mesh = mesh_run(sources, tmp)
        runs["mesh"].append(mesh)
        # The baseline executes the SQL dbt compiled in this very build.
        runs["baseline"].append(baseline_run(mesh["home"], tmp))
        print(
            f"  {orders:,} orders, run {i + 1}/{repeat}: mesh {mesh['seconds']:.1f}s ({mesh['cpu_seconds']:.1f}s CPU), "
            f"baseline {runs['baseline'][-1]['seconds']:.1f}s"
            + "".join(f", {v} {runs[v][-1]['seconds']:.1f}s" for v in variants),
            file=sys.stderr,
            flush=True,
        )
    shutil.rmtree(sources)
    mesh_s = statistics.median(r["seconds"] for r in runs["mesh"])
    base_s = statistics.median(r["seconds"] for r in runs["baseline"])
    mesh_cpu = statistics.median(r["cpu_seconds"] for r in runs["mesh"])
    base_cpu = statistics.median(r["cpu_seconds"] for r in runs["baseline"])
    domains = sorted(runs["mesh"][0]["domains"])
    return {
        "orders": orders,
        "mesh_seconds": round(mesh_s, 2),
        "mesh_build_seconds": round(statistics.median(r["build_seconds"] for r in runs["mesh"]), 2),
        "baseline_seconds": round(base_s, 2),
        "baseline_script_seconds": round(statistics.median(r["script_seconds"] for r in runs["baseline"]), 2),
        "ratio": round(mesh_s / base_s, 2),
        "mesh_cpu_seconds": round(mesh_cpu, 2),
        "baseline_cpu_seconds": round(base_cpu, 2),
        "cpu_ratio": round(mesh_cpu / base_cpu, 2),
        "mesh_peak_mib": round(max(r["peak"] for r in runs["mesh"]) / 2**20),
        "mesh_peak_rss_sum_mib": round(max(r["peak_rss_sum"] for r in runs["mesh"]) / 2**20),
        "baseline_peak_mib": round(max(r["peak"] for r in runs["baseline"]) / 2**20),
        "baseline_peak_rss_sum_mib": round(max(r["peak_rss_sum"] for r in runs["baseline"]) / 2**20),
        # Per domain: a Meshwork domain run (Dagster, dbt, gate) vs the same SQL in the script.
        "domain_seconds": {
            d: {
                "mesh": round(statistics.median(r["domains"][d] for r in runs["mesh"]), 2),
                "baseline": round(statistics.median(r["domains"][d] for r in runs["baseline"]), 3),
            }
            for d in domains
        },
        "phases_of_last_run": runs["mesh"][-1]["phases"],
        "phases_median": _summary(runs["mesh"])["phases"],
        **{v: _summary(runs[v]) for v in variants},
        "repeat": repeat,
        "load_average": os.getloadavg(),
    }


_PHASES = "| domain | wall | fixed | outside steps | dbt models | dbt overhead | python products | contract gates |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--fresh-process-too", action="store_true", help="also build with MESH_WARM_WORKER=0")
    parser.add_argument("--dbt-subprocess-too", action="store_true", help="also build with MESH_DBT_IN_PROCESS=0")
    args = parser.parse_args()
    variants = [
        v for v, on in [("fresh_process", args.fresh_process_too), ("dbt_subprocess", args.dbt_subprocess_too)] if on
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="mesh-bench-") as tmp:
        for orders in args.orders:
            print(f"{orders:,} orders …", file=sys.stderr, flush=True)
            results.append(measure(orders, args.repeat, Path(tmp), variants))
            if args.json:  # after each scale: a later failure keeps what was measured
                args.json.write_text(json.dumps(results, indent=2, default=str))
    print("| orders | Meshwork (s) | DuckDB script (s) | ratio | Meshwork CPU (s) | script CPU (s) | CPU ratio "
          "| Meshwork peak PSS (MiB) | script peak PSS (MiB) | Meshwork sum of RSS (MiB) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['orders']:,} | {r['mesh_seconds']} | {r['baseline_seconds']} | {r['ratio']}x | "
            f"{r['mesh_cpu_seconds']} | {r['baseline_cpu_seconds']} | {r['cpu_ratio']}x | "
            f"{r['mesh_peak_mib']} | {r['baseline_peak_mib']} | {r['mesh_peak_rss_sum_mib']} |"
        )
    for r in results:
        print(f"\n{r['orders']:,} orders, where a domain run's time goes (medians of {r['repeat']}, seconds):")
        print(_PHASES)
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for domain, p in sorted(r["phases_median"].items()):
            print(f"| {domain} | " + " | ".join(str(v) for v in p.values()) + " |")
        for variant in variants:
            other = r[variant]
            print(
                f"\n{r['orders']:,} orders, default / {variant}, medians of {r['repeat']} interleaved runs: whole "
                f"build {r['mesh_seconds']}s vs {other['seconds']}s, CPU {r['mesh_cpu_seconds']}s vs "
                f"{other['cpu_seconds']}s, peak PSS {r['mesh_peak_mib']} vs {other['peak_mib']} MiB"
            )
            print(_PHASES)
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for domain, p in sorted(r["phases_median"].items()):
                q = other["phases"][domain]
                print(f"| {domain} | " + " | ".join(f"{p[k]} / {q[k]}" for k in p) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
