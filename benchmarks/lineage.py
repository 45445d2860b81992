"""OpenLineage emission overhead per event, and what a backend that is down or slow costs a run.

Builds the COMPLETE event of ``finance/daily_revenue`` (every facet, column lineage included) from
the real mesh in a temporary ``MESH_HOME``, then times, in one process:

- ``build only``: building the event, no emission (the baseline every ratio is against);
- ``file``: build + ``delivery.emit`` with no OpenLineage configuration (the default
  file transport, ``$MESH_HOME/lineage/events.jsonl``);
- ``http up``: build + emit to a real receiver on 127.0.0.1 (for reference);
- ``http refused`` / ``http slow``: build + emit to a port nothing listens on, and to a receiver that
  answers after twice the timeout. The first event of a process pays at most the timeout; the
  next ones skip the backend (backoff) and go to the outbox, so they are timed separately;
- ``run``: the events of a whole domain run (START + COMPLETE for 7 products, in a fresh process
  state) against each backend: the run's added wall time, which must stay within the timeout.

    .venv/bin/python -m benchmarks.lineage --events 300 --timeout 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

PRODUCT = "finance/daily_revenue"


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def _time(fn: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300, help="events timed per transport")
    parser.add_argument("--timeout", type=float, default=1.0, help="MESH_LINEAGE_TIMEOUT in seconds")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="mesh-bench-lineage-"))
    os.environ["MESH_HOME"] = str(home)
    os.environ["MESH_LINEAGE_TIMEOUT"] = str(args.timeout)
    for name in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        del os.environ[name]

    from meshwork.lineage import delivery, events
    from meshwork.lineage.column_lineage import ColumnOrigin, InputColumn, Relation
    from meshwork.model.loader import load_mesh
    from meshwork.model.rules import Rule
    from meshwork.quality.validator import QualityReport, RuleResult
    from meshwork.storage import snapshots
    from tests.lineage_support import free_port, receiver

    mesh = load_mesh()
    product = mesh.products[PRODUCT]
    info = events.RunInfo("0d7c1f3e-1111-4222-8333-444455556666", "__ASSET_JOB", "dbt")
    contract = product.current_port.contract
    manifest = snapshots.Manifest(
        domain="finance",
        product="daily_revenue",
        version="v1",
        snapshot_id="20261201T000000000000Z-0d7c1f3e",
        contract_id=contract.id,
        contract_version=contract.version,
        columns=[snapshots.ColumnEntry(name=c.name, type=c.physical_type) for c in contract.columns],
        row_count=711,
        files=[snapshots.FileEntry(path="data_0.parquet", bytes=20_000, sha256="0" * 64)],
        run_id=info.dagster_run_id,
        created_at=datetime.now(UTC),
        environment="local",
    )
    reports = [
        QualityReport(
            "finance/daily_revenue@v1",
            711,
            [
                RuleResult(
                    Rule(id=f"{c.name}.not_null", kind="not_null", description="never empty", columns=(c.name,)),
                    True,
                    0,
                )
                for c in contract.columns
            ],
        )
    ]
    columns = {
        c.name: ColumnOrigin((InputColumn(Relation("port", "sales/orders/v1"), "order_ts"),), "TRANSFORMATION")
        for c in contract.columns
    }
    reads = [events.PortRead("sales/orders@v1", "20261130T000000000000Z-aaaaaaaa")]

    def build():
        return events.complete_event(mesh, product, info, reads, [manifest], reports, columns, "select 1")

    def emit() -> None:
        delivery.emit(build())

    results: dict[str, dict[str, float]] = {}
    build()  # warm imports and caches
    delivery.reset()
    emit()
    baseline, file = [], []
    for _ in range(args.events):  # interleaved, so that machine noise hits both alike
        baseline += _time(build, 1)
        file += _time(emit, 1)
    results["build only (baseline)"] = _stats(baseline)
    results["file"] = _stats(file)

    with receiver() as backend:
        os.environ["OPENLINEAGE_URL"] = backend.url
        delivery.reset()
        emit()
        results["http up"] = _stats(_time(emit, args.events))

    firsts: dict[str, list[float]] = {"http refused": [], "http slow": []}
    runs: dict[str, float] = {}

    def run() -> float:
        """A domain run's events in a fresh process state: START and COMPLETE for 7 products."""
        delivery.reset()
        start = time.perf_counter()
        for _ in range(7):
            delivery.emit(events.start_event(mesh, product, info))
            emit()
        return time.perf_counter() - start

    delivery.reset()
    os.environ.pop("OPENLINEAGE_URL", None)
    runs["file"] = statistics.median(run() for _ in range(5))

    os.environ["OPENLINEAGE_URL"] = f"http://127.0.0.1:{free_port()}"
    for _ in range(5):  # each first event of a process: bounded by the timeout
        delivery.reset()
        firsts["http refused"] += _time(emit, 1)
    results["http refused, after the first"] = _stats(_time(emit, args.events))
    runs["http refused"] = statistics.median(run() for _ in range(3))

    with receiver(delay=2 * args.timeout) as slow:
        os.environ["OPENLINEAGE_URL"] = slow.url
        for _ in range(3):
            delivery.reset()
            firsts["http slow"] += _time(emit, 1)
        results["http slow, after the first"] = _stats(_time(emit, args.events))
        runs["http slow"] = statistics.median(run() for _ in range(3))
    queued = len(delivery.outbox())

    base = results["build only (baseline)"]["median_ms"]
    print(f"{args.events} events per transport, MESH_LINEAGE_TIMEOUT={args.timeout:g}s, event of {PRODUCT}")
    print(
        f"{'per event':<32} {'median (ms)':>12} {'p95 (ms)':>10} {'max (ms)':>10} {'ratio':>8} {'emit only (ms)':>15}"
    )
    for name, r in results.items():
        ratio = r["median_ms"] / base
        print(
            f"{name:<32} {r['median_ms']:>12.3f} {r['p95_ms']:>10.3f} {r['max_ms']:>10.3f} {ratio:>7.2f}x"
            f" {r['median_ms'] - base:>15.3f}"
        )
    for name, samples in firsts.items():
        print(f"{name}, first event of a process: median {statistics.median(samples):.3f}s, max {max(samples):.3f}s")
    print(f"{'a run (14 events)':<32} {'wall (s)':>12} {'added vs file (s)':>18}")
    for name, seconds in runs.items():
        print(f"{name:<32} {seconds:>12.3f} {seconds - runs['file']:>18.3f}")
    print(f"{queued} events in the outbox afterwards ({home / 'lineage/outbox.jsonl'})")
    overhead = results["file"]["median_ms"] - base
    worst = max(seconds - runs["file"] for seconds in runs.values())
    print(
        f"targets: file transport overhead {overhead:.2f} ms/event (<= 5 ms: {'met' if overhead <= 5 else 'MISSED'});"
        f" a run slowed by at most {worst:.3f}s with a {args.timeout:g}s timeout"
    )


if __name__ == "__main__":
    main()
