"""What verifying a port's bytes on every read costs, against reading them with DuckDB.

Writes a synthetic orders-like snapshot of about ``--gb`` GB the way a publish does (zstd Parquet cut
into 256 MB files) in a temporary folder, reads it once to warm the page cache, then times, in one
process and interleaved so that machine noise hits all alike (median of ``--repeat``):

- ``duckdb scan, every column`` (the baseline every ratio is against): a consumer reading the whole
  snapshot, every column decoded (``sum(hash(…))`` over all of them);
- ``duckdb aggregate, 2 columns``: a typical consumer query (revenue per day) that reads two columns;
- ``sha256, 1 thread``: :func:`meshwork.storage.port_store.sha256_file` over every file in turn;
- ``sha256, N threads``: the same with one thread per core (hashlib releases the GIL);
- ``readable_files() per read``: :func:`meshwork.storage.snapshots.readable_files`, what a reader now
  pays (every file hashed, in parallel);
- ``stat only``: what the old marker keyed on path, size, mtime and inode cost (one ``stat``).

    .venv/bin/python -m benchmarks.integrity --gb 1 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROWS = """SELECT range AS order_id, (random() * 1e6)::BIGINT AS customer_id,
    TIMESTAMP '2025-01-01' + to_seconds((random() * 3e7)::BIGINT) AS order_ts,
    ['completed', 'cancelled', 'returned'][1 + range % 3] AS status, round(random() * 1000, 2) AS amount,
    md5(range::VARCHAR) AS note FROM range({n})"""
SNAPSHOT = "20260101T000000000000Z-bench000"


def _median(fn: Callable[[], object], samples: list[float]) -> None:
    start = time.perf_counter()
    fn()
    samples.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="approximate size of the snapshot")
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure (median)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="mesh-bench-integrity-"))
    os.environ["MESH_HOME"] = str(home)
    # Deferred: MESH_HOME must be set before the mesh's modules read their settings.
    import duckdb

    from meshwork.storage import snapshots
    from meshwork.storage.port_store import FileEntry, sha256_file

    try:
        con = duckdb.connect()
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        sample = home / "sample.parquet"
        con.execute(f"COPY ({ROWS.format(n=1_000_000)}) TO '{sample}' (FORMAT parquet, COMPRESSION zstd)")
        rows = int(args.gb * (1 << 30) / sample.stat().st_size * 1_000_000)
        snapshot = snapshots.version_dir("bench", "orders", 1) / SNAPSHOT
        snapshot.parent.mkdir(parents=True)
        start = time.perf_counter()
        con.execute(
            f"COPY ({ROWS.format(n=rows)}) TO '{snapshot}' (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '256MB')"
        )
        written = time.perf_counter() - start
        files = sorted(snapshot.glob("*.parquet"))
        size = sum(f.stat().st_size for f in files)
        gb = size / (1 << 30)
        entries = [FileEntry(path=f.name, bytes=f.stat().st_size, sha256=sha256_file(f)) for f in files]  # warms
        listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({listing})").fetchall()]
        full = f"SELECT count(*), sum(hash({', '.join(columns)})) FROM read_parquet({listing})"
        typical = f"SELECT order_ts::DATE AS day, sum(amount) FROM read_parquet({listing}) GROUP BY ALL"
        manifest = snapshots.Manifest(
            domain="bench",
            product="orders",
            version="v1",
            snapshot_id=SNAPSHOT,
            contract_id="bench",
            contract_version="1.0.0",
            columns=[],
            row_count=rows,
            files=entries,
            run_id=None,
            created_at=datetime.now(UTC),
            environment="bench",
        )
        pool = ThreadPoolExecutor(os.cpu_count() or 1)

        timed: dict[str, Callable[[], object]] = {
            "duckdb scan, every column (baseline)": lambda: con.execute(full).fetchall(),
            "duckdb aggregate, 2 columns": lambda: con.execute(typical).fetchall(),
            "sha256, 1 thread": lambda: [sha256_file(f) for f in files],
            f"sha256, {os.cpu_count()} threads": lambda: list(pool.map(sha256_file, files)),
            "readable_files() (the check now)": lambda: snapshots.readable_files(manifest),
            "stat only (the old marker)": lambda: [f.stat() for f in files],
        }
        assert snapshots.readable_files(manifest)[1] == [], "the snapshot must verify"
        for fn in timed.values():
            fn()  # warm: page cache, DuckDB's metadata cache
        samples: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(args.repeat):
            for name, fn in timed.items():
                _median(fn, samples[name])
        pool.shutdown()

        print(
            f"{rows:,} rows, {len(files)} files, {gb:.3f} GB (written in {written:.1f}s); "
            f"DuckDB {duckdb.__version__} with {threads} threads; {os.cpu_count()} cores; warm page cache"
        )
        print(f"{'per read of the snapshot':<40} {'median (s)':>11} {'GB/s':>8} {'ratio':>8}")
        base = statistics.median(samples["duckdb scan, every column (baseline)"])
        for name, values in samples.items():
            seconds = statistics.median(values)
            rate = f"{gb / seconds:8.2f}" if seconds > 1e-3 else f"{'-':>8}"
            print(f"{name:<40} {seconds:>11.4f} {rate} {seconds / base:>7.2f}x")
        per_gb = statistics.median(samples["sha256, 1 thread"]) / gb
        print(f"sha256 costs {per_gb:.3f} s per GB on one core")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
