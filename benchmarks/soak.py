"""Soak: every domain rebuilding at once, over and over, while consumers read their ports.

The example mesh is built once; then, until the time is up, one loop per domain reruns that
domain's `dagster asset materialize` (all domains at the same time, each serialized on its own
warehouse pool), and reader threads keep reading every declared input port through the platform's
port reader, as the consumers do. Counted:

- DuckDB lock errors in any run's log (a warehouse opened by two writers, or by another domain);
- torn reads: a read whose rows differ from the row count of the manifest it resolved, or that fails
  for any reason other than retention having removed a snapshot the reader had already resolved;
- runs that failed, and publishes (new `latest` snapshots) that happened under the readers.

    .venv/bin/python -m benchmarks.soak --minutes 3 --readers 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb

LOCK_ERRORS = ("Could not set lock", "Conflicting lock", "database is locked by another")
BIN = Path(sys.executable).parent


def domain_loop(domain: str, env: dict[str, str], deadline: float, logs: Path, stats: Counter, lock: threading.Lock):
    from meshwork.runtime.build import materialize_command

    i = 0
    while time.monotonic() < deadline:
        log = logs / f"{domain}-{i}.log"
        with log.open("w") as out:
            rc = subprocess.run(materialize_command(domain), env=env, stdout=out, stderr=subprocess.STDOUT).returncode
        text = log.read_text(errors="replace")
        with lock:
            stats[f"runs.{domain}"] += 1
            stats["runs"] += 1
            stats["runs.failed"] += rc != 0
            stats["duckdb_lock_errors"] += sum(text.count(marker) for marker in LOCK_ERRORS)
            if rc != 0:
                stats[f"failed.{domain}"] += 1
        i += 1


def reader_loop(deadline: float, stats: Counter, lock: threading.Lock, seen: dict[str, set], errors: list[str]):
    from meshwork.core.errors import PortAccessError
    from meshwork.model.loader import load_mesh
    from meshwork.ports.reader import PortReader

    mesh = load_mesh()
    pairs = [(c, i.product) for c in mesh.products.values() for i in c.inputs]
    con = duckdb.connect()
    while time.monotonic() < deadline:
        for consumer, producer in pairs:
            reader = PortReader(mesh, consumer, con, run_id="soak")
            try:
                resolved = reader.resolve(producer)
                (rows,) = con.execute(f"SELECT count(*) FROM {resolved.sql()}").fetchone()
            except (duckdb.IOException, FileNotFoundError, PortAccessError) as exc:
                # Retention may remove a snapshot between resolve and scan (it keeps the last N).
                gone = "No files found" in str(exc) or "No such file" in str(exc)
                with lock:
                    stats["reads.snapshot_gone" if gone else "reads.errors"] += 1
                    if not gone and len(errors) < 5:
                        errors.append(str(exc)[:300])
                continue
            with lock:
                stats["reads"] += 1
                seen.setdefault(producer, set()).add(resolved.snapshot_id)
                if rows != resolved.manifest.row_count:
                    stats["reads.torn"] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="write the counters here")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="meshwork-soak-")) / "mesh"
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    os.environ.update(env)
    print(f"MESH_HOME={home}: first build …", flush=True)
    first = subprocess.run(
        [str(BIN / "mesh"), "build", "--orders", str(args.orders), "--json"], env=env, capture_output=True, text=True
    )
    if first.returncode != 0:
        print(first.stdout[-3000:], first.stderr[-3000:], file=sys.stderr)
        return 1
    from meshwork.model.loader import load_mesh

    domains = load_mesh().domain_order()
    logs = home / "logs" / "soak"
    logs.mkdir(parents=True, exist_ok=True)
    stats: Counter = Counter()
    lock = threading.Lock()
    seen: dict[str, set] = {}
    errors: list[str] = []
    started = time.monotonic()
    deadline = started + args.minutes * 60
    threads = [threading.Thread(target=domain_loop, args=(d, env, deadline, logs, stats, lock)) for d in domains]
    threads += [
        threading.Thread(target=reader_loop, args=(deadline, stats, lock, seen, errors)) for _ in range(args.readers)
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(15)
        with lock:
            print(
                f"  {time.monotonic() - started:5.0f}s runs={stats['runs']} failed={stats['runs.failed']} "
                f"reads={stats['reads']} torn={stats['reads.torn']} lock_errors={stats['duckdb_lock_errors']}",
                flush=True,
            )
    for t in threads:
        t.join()
    result = {
        "minutes": round((time.monotonic() - started) / 60, 1),
        "domains": domains,
        "readers": args.readers,
        **{k: v for k, v in sorted(stats.items())},
        "read_errors": errors,
        "distinct_snapshots_read": {k: len(v) for k, v in sorted(seen.items())},
        "mesh_home": str(home),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    clean = not stats["reads.torn"] and not stats["duckdb_lock_errors"] and not stats["reads.errors"]
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
