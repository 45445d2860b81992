"""Contract validation of a big port: Meshwork's validator against hand-written DuckDB SQL.

Both sides check the same rules of the sales/orders contract on the same table in the same process
kind: not-null x7, unique order_id, allowed status values, currency pattern, foreign key to the
customers port, freshness. Each measurement runs in a fresh subprocess (so peak RSS is its own),
three times; the report gives medians and the ratio to SQL measured in the same run.

    .venv/bin/python -m benchmarks.validation --rows 1000000 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HAND_WRITTEN = """
SELECT
    count(*) FILTER (WHERE order_id IS NULL),
    count(*) FILTER (WHERE customer_id IS NULL),
    count(*) FILTER (WHERE order_ts IS NULL),
    count(*) FILTER (WHERE status IS NULL),
    count(*) FILTER (WHERE region IS NULL),
    count(*) FILTER (WHERE currency IS NULL),
    count(*) FILTER (WHERE channel IS NULL),
    count(*) FILTER (WHERE status NOT IN ('completed', 'cancelled', 'refunded')),
    count(*) FILTER (WHERE NOT regexp_full_match(currency, '^[A-Z]{3}$')),
    max(order_ts)
FROM orders;
SELECT count(*) FROM (SELECT order_id FROM orders WHERE order_id IS NOT NULL GROUP BY ALL HAVING count(*) > 1);
SELECT count(*) FROM orders o ANTI JOIN customers c ON o.customer_id = c.customer_id WHERE o.customer_id IS NOT NULL;
"""


def prepare(db: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    con.execute(f"""
        CREATE OR REPLACE TABLE orders AS SELECT
            range AS order_id, (range % {max(rows // 8, 1)})::BIGINT AS customer_id,
            TIMESTAMP '2024-01-01' + to_seconds(range % 63072000) AS order_ts,
            ['completed', 'cancelled', 'refunded'][1 + range % 3] AS status,
            ['EMEA', 'AMER'][1 + range % 2] AS region, ['EUR', 'USD', 'NOK'][1 + range % 3] AS currency,
            ['web', 'app', 'marketplace'][1 + range % 3] AS channel
        FROM range({rows})""")
    con.execute(
        f"CREATE OR REPLACE TABLE customers AS SELECT range::BIGINT AS customer_id FROM range({max(rows // 8, 1)})"
    )
    con.close()


def run_one(mode: str, db: Path) -> dict:
    """Executed in a child process: one timed validation, plus this process's peak RSS."""
    import duckdb

    from meshwork.model.loader import load_mesh
    from meshwork.model.rules import compile_rules
    from meshwork.quality.validator import Validator
    from meshwork.storage import warehouse

    con = duckdb.connect(str(db), read_only=True)  # read-only: many of them, never a writer
    con.execute("SET threads = 2")
    con.execute(f"SET memory_limit = '{os.environ.get('BENCH_MEMORY_LIMIT', '2GB')}'")
    con.execute(f"SET temp_directory = '{db.parent / 'spill'}'")
    warehouse.quiet(con)
    start = time.perf_counter()
    if mode == "sql":
        for statement in filter(str.strip, HAND_WRITTEN.split(";")):
            con.execute(statement).fetchall()
        failures = None
    else:
        contract = load_mesh().product("sales/orders").current_port.contract
        rules, _ = compile_rules(contract, "sales/orders")
        report = Validator(con, "orders", contract, "sales/orders@v1", lambda key: "customers").run(rules)
        failures = [r.rule.id for r in report.failures]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"mode": mode, "seconds": seconds, "peak_rss": peak, "failures": failures}


def measure(mode: str, db: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.validation", "--child", mode, str(db)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit for both sides (default 2GB)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], Path(args.child[1]))))
        return
    os.environ["BENCH_MEMORY_LIMIT"] = args.memory_limit
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            db = Path(tmp) / f"bench_{rows}.duckdb"
            print(f"preparing {rows:,} rows …", file=sys.stderr, flush=True)
            prepare(db, rows)
            runs: dict[str, list[dict]] = {"sql": [], "meshwork": []}
            for i in range(args.repeat):
                for mode in ("sql", "meshwork"):  # interleaved, so drift hits both alike
                    runs[mode].append(measure(mode, db))
                    print(
                        f"  {rows:,} {mode} run {i + 1}: {runs[mode][-1]['seconds']:.2f}s", file=sys.stderr, flush=True
                    )
            sql = statistics.median(r["seconds"] for r in runs["sql"])
            mesh = statistics.median(r["seconds"] for r in runs["meshwork"])
            results.append(
                {
                    "rows": rows,
                    "sql_seconds": round(sql, 3),
                    "meshwork_seconds": round(mesh, 3),
                    "ratio": round(mesh / sql, 2),
                    "sql_peak_rss_mib": round(max(r["peak_rss"] for r in runs["sql"]) / 2**20),
                    "meshwork_peak_rss_mib": round(max(r["peak_rss"] for r in runs["meshwork"]) / 2**20),
                    "meshwork_failures": runs["meshwork"][0]["failures"],
                }
            )
            db.unlink()
    print(
        "| rows | hand-written SQL (s) | Meshwork validator (s) | ratio | SQL peak RSS (MiB) "
        "| Meshwork peak RSS (MiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['sql_seconds']} | {r['meshwork_seconds']} | {r['ratio']}x | "
            f"{r['sql_peak_rss_mib']} | {r['meshwork_peak_rss_mib']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
