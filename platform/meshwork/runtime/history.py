"""What happened to the products: published snapshots (manifests) and contract-gate evaluations.

Read by the catalog and the mesh metrics. Snapshots come from the port store (only the retained
ones: retention deletes older snapshots, so histories are as long as retention keeps them). Gate
evaluations come from the Dagster instance, when there is one: every run of the blocking
``contract`` check, passed or failed, with its per-rule results.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from meshwork.core import settings
from meshwork.model.mesh import Port
from meshwork.storage import snapshots

if TYPE_CHECKING:
    import dagster as dg

_SNAPSHOT_TIME = re.compile(r"^(\d{8}T\d{12})Z")
# A line of the gate's markdown metadata, for evaluations recorded before it carried `rule_results`.
_MD_PORT = re.compile(r"^\*\*(?P<port>[^*]+)\*\*")
_MD_RULE = re.compile(r"^- (?P<mark>✅|❌|⚠️) `(?P<rule>[^`]+)`: .*?(?: — (?P<rows>[\d,]+) failing row\(s\))?(?: \(|$)")


@dataclass(frozen=True)
class RuleOutcome:
    port: str
    rule: str
    passed: bool
    severity: str = "error"
    failing_rows: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class GateRun:
    """One evaluation of a product's ``contract`` check."""

    at: datetime
    run_id: str
    passed: bool
    rows: int | None
    rules: list[RuleOutcome] = field(default_factory=list)

    @property
    def rules_failed(self) -> int:
        return sum(1 for r in self.rules if not r.passed and r.severity == "error")


def snapshot_time(snapshot_id: str) -> datetime | None:
    """The publish time encoded in a snapshot id (ids start with a UTC timestamp)."""
    m = _SNAPSHOT_TIME.match(snapshot_id)
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC) if m else None


def port_snapshots(port: Port) -> tuple[list[snapshots.Manifest], str | None]:
    """Retained snapshots of a port version, oldest first, and the id ``latest`` points at."""
    found = []
    for snapshot_id in snapshots.snapshot_ids(port.domain, port.product, port.major):
        with contextlib.suppress(OSError, ValueError):  # a snapshot removed by retention meanwhile
            found.append(snapshots.read_manifest(port.domain, port.product, port.major, snapshot_id))
    try:
        latest_id = snapshots.latest_snapshot(port.domain, port.product, port.major)
    except (OSError, ValueError):
        latest_id = None
    return found, latest_id


def latest(port: Port) -> snapshots.Manifest | None:
    snapshot_id = snapshots.latest_snapshot(port.domain, port.product, port.major)
    if not snapshot_id:
        return None
    try:
        return snapshots.read_manifest(port.domain, port.product, port.major, snapshot_id)
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def open_instance() -> Iterator[dg.DagsterInstance | None]:
    """The mesh's Dagster instance, or None when this MESH_HOME has none (never creates one)."""
    home = settings.dagster_home()
    if not (home / "dagster.yaml").is_file() and not (home / "history").is_dir():
        yield None
        return
    import dagster as dg  # imported only when there is an instance: it costs a second of start-up

    try:
        instance = dg.DagsterInstance.from_config(str(home))
    except Exception:  # a broken or foreign instance must not stop a catalog build
        yield None
        return
    from meshwork.runtime import orphan_runs  # imports Dagster too, so only once there is an instance

    with instance:
        with contextlib.suppress(Exception):  # failing dead runs is a side errand: the catalog builds anyway
            orphan_runs.recover(instance)
        yield instance


def gate_runs(instance: dg.DagsterInstance | None, product_key: str, limit: int = 20) -> list[GateRun]:
    """The product's most recent contract-check evaluations, newest first."""
    if instance is None:
        return []
    import dagster as dg  # deferred, as above: a catalog without an instance never pays for Dagster

    from meshwork.runtime import specs  # imports Dagster too

    check = dg.AssetCheckKey(specs.asset_key(product_key), specs.CONTRACT_CHECK)
    try:
        # The per-check history the Dagster UI shows; DagsterInstance has no public non-deprecated
        # query for more than the latest evaluation (get_event_records is deprecated for 2.0).
        records = list(instance.event_log_storage.get_asset_check_execution_history(check, limit=limit))
    except Exception:
        latest_record = instance.get_latest_asset_check_evaluation_record(check)
        records = [latest_record] if latest_record else []
    runs = []
    for record in records:
        entry = record.event
        evaluation = entry.asset_check_evaluation if entry is not None else None
        if entry is None or evaluation is None:
            continue  # planned but never evaluated (the run died first)
        runs.append(
            GateRun(
                at=datetime.fromtimestamp(entry.timestamp, UTC),
                run_id=record.run_id,
                passed=bool(evaluation.passed),
                rows=_int(evaluation.metadata.get("dagster/row_count")),
                rules=rule_outcomes(evaluation.metadata),
            )
        )
    return runs


def first_attempt(instance: dg.DagsterInstance | None, product_key: str) -> datetime | None:
    """When a run first set out to build the product (its first planned materialization), or None."""
    if instance is None:
        return None
    from meshwork.runtime import specs  # imports Dagster; deferred as above

    try:
        found = instance.fetch_planned_materializations(specs.asset_key(product_key), limit=1, ascending=True)
    except Exception:  # an instance that cannot answer leaves the metric unmeasured, not failed
        return None
    return datetime.fromtimestamp(found.records[0].timestamp, UTC) if found.records else None


def _int(value: Any) -> int | None:
    raw = getattr(value, "value", value)
    return int(raw) if isinstance(raw, int | float) else None


def rule_outcomes(metadata: Mapping[str, Any]) -> list[RuleOutcome]:
    structured = metadata.get("rule_results")
    data = getattr(structured, "data", None)
    if isinstance(data, list):
        return [
            RuleOutcome(
                port=str(r.get("port", "")),
                rule=str(r.get("rule", "")),
                passed=bool(r.get("passed")),
                severity=str(r.get("severity") or "error"),
                failing_rows=r.get("failing_rows"),
                detail=str(r.get("detail") or ""),
            )
            for r in data
            if isinstance(r, dict)
        ]
    text = getattr(metadata.get("rules"), "value", None)
    return _parse_markdown(text) if isinstance(text, str) else []


def _parse_markdown(text: str) -> list[RuleOutcome]:
    outcomes, port = [], ""
    for line in text.splitlines():
        if m := _MD_PORT.match(line):
            port = m.group("port")
        elif m := _MD_RULE.match(line):
            rows = m.group("rows")
            outcomes.append(
                RuleOutcome(
                    port=port,
                    rule=m.group("rule"),
                    passed=m.group("mark") == "✅",
                    severity="warn" if m.group("mark") == "⚠️" else "error",
                    failing_rows=int(rows.replace(",", "")) if rows else None,
                )
            )
    return outcomes
