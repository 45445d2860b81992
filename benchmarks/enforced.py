"""What the enforced mode costs, side by side with the local path, in one run on one machine.

- ``vended read``: a consumer resolving one input port through the control plane (authenticate,
  check, audit, vend IAM keys, download into the cache, verify) vs the local reader on the same
  snapshot; the difference is the added cost per input port per run (target: <= 50 ms).
- ``resolve throughput``: POST /v1/reads answered per second by one ``mesh serve`` process under
  8 concurrent clients (target: >= 200/s).
- ``publish-time masking``: publishing a port with PII columns with its masked variant vs without
  (the local path; the control plane runs the same COPY with its key) (target: <= 1.2x).

The storage server is moto's S3+IAM with authentication on (tests/enforced.py), so IAM calls cost
what moto costs, not what AWS costs; the report says so.

    .venv/bin/python -m benchmarks.enforced --rows 1000000 --reads 30 --seconds 10
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TABLE = """CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
    'First' || (range % 1000) AS first_name, 'Last' || (range % 5000) AS last_name,
    'user' || range || '@example.com' AS email, '+44 ' || range AS phone,
    DATE '1950-01-01' + (range % 20000)::INTEGER AS birth_date, range || ' High Street' AS street,
    'City' || (range % 300) AS city, 'PC' || (range % 9999) AS postcode, 'GB' AS country,
    TIMESTAMP '2024-01-01' AS created_at FROM range({rows})"""
PUBLISH = """
import sys, time, json
from meshwork.model.loader import load_mesh
from meshwork.ports import publish, masking
from meshwork.storage import warehouse
rows, variant = int(sys.argv[1]), sys.argv[2]
if variant == "clear-only":
    masking.needs_masking = lambda contract: False
mesh = load_mesh(check_grants=False)
with warehouse.connect("customers") as con:
    con.execute(sys.argv[3].format(rows=rows))
    start = time.perf_counter()
    publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "bench")
    print(json.dumps({"seconds": time.perf_counter() - start}))
"""
READ = """
import sys, time, json, duckdb
from meshwork.model.loader import load_mesh
from meshwork.ports.reader import PortReader
mesh = load_mesh(check_grants=False)
samples = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    reader = PortReader(mesh, mesh.product(sys.argv[2]), duckdb.connect())
    reader.relation("customers/customer_profiles").limit(1).fetchall()
    samples.append(time.perf_counter() - start)
print(json.dumps(samples))
"""


def _run(code: str, env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return out.stdout.strip().splitlines()[-1]


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    return (
        f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {ordered[int(len(ordered) * 0.95) - 1] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the PII port")
    parser.add_argument("--reads", type=int, default=30, help="timed resolves per path")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the throughput run")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.enforced import control_plane

    tmp = Path(tempfile.mkdtemp(prefix="mesh-bench-enforced-"))
    base = {**os.environ, "MESH_PROJECT_DIR": str(Path(__file__).resolve().parents[1])}
    print(f"publish-time masking, {args.rows:,} rows (local store, 2 runs each, best):", flush=True)
    best = {}
    for variant in ("clear-only", "with-masked", "clear-only", "with-masked"):
        env = {**base, "MESH_HOME": str(tmp / f"local-{variant}")}
        seconds = json.loads(_run(PUBLISH, env, str(args.rows), variant, TABLE))["seconds"]
        best[variant] = min(best.get(variant, seconds), seconds)
        print(f"  {variant:12} {seconds:6.2f} s", flush=True)
    print(f"  masking adds {best['with-masked'] / best['clear-only']:.2f}x to the publish", flush=True)

    os.environ.update(MESH_HOME=str(tmp / "enforced"), MESH_PROJECT_DIR=base["MESH_PROJECT_DIR"])
    local_env = {**base, "MESH_HOME": str(tmp / "local-with-masked")}
    local = json.loads(_run(READ, local_env, str(args.reads), "marketing/customer_360"))
    with control_plane(tmp) as plane:
        for domain in ("customers", "marketing"):
            plane.issue("domain", domain)
        _run(PUBLISH, plane.domain_env("customers"), str(min(args.rows, 100_000)), "with-masked", TABLE)
        enforced = json.loads(_run(READ, plane.domain_env("marketing"), str(args.reads), "marketing/customer_360"))
        print(f"resolve one input port ({args.reads} each; the first enforced read downloads, the rest hit the cache):")
        print(f"  local reader      {_ms(local)}")
        print(f"  enforced (vended) {_ms(enforced)}")
        print(f"  first resolve (creates the IAM user, downloads): local {local[0] * 1000:.1f} ms, "
              f"enforced {enforced[0] * 1000:.1f} ms")  # fmt: skip
        added = statistics.median(enforced) - statistics.median(local)
        print(f"  added per input port: {added * 1000:.1f} ms (median)", flush=True)

        body = {"consumer": "marketing/customer_360", "input": "customers/customer_profiles"}
        stop = time.monotonic() + args.seconds
        counts = []

        def client() -> int:
            n = 0
            while time.monotonic() < stop:
                assert plane.call("domain:marketing", "POST", "/v1/reads", body).status_code == 200
                n += 1
            return n

        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            counts = list(pool.map(lambda _: client(), range(8)))
        elapsed = time.monotonic() - start
        print(
            f"resolve throughput: {sum(counts) / elapsed:.0f} requests/s ({sum(counts)} in {elapsed:.1f} s, 8 clients)"
        )


if __name__ == "__main__":
    main()
