"""The catalog's data, as written to ``catalog.json``: every domain and product with its ports,
schema, rules and latest results, freshness, consumers, lineage, history and the mesh metrics.

The HTML pages are rendered from exactly this model, so anything a page shows is also in the JSON
export for other tools (search indexers, portals, notebooks).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

LINEAGE_DEPTH = 4  # hops shown each way on a product page: enough context, still a readable graph


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnerEntry(Entry):
    team: str
    email: str | None = None


class GrantEntry(Entry):
    consumer: str
    purpose: str
    pii: bool
    expires: date | None = None


class SnapshotEntry(Entry):
    snapshot_id: str
    published_at: datetime
    rows: int
    contract_version: str
    run_id: str | None = None


class PortEntry(Entry):
    ref: str
    version: str
    visibility: str
    contract_id: str
    contract_version: str
    state: Literal["active", "deprecated", "removed"]
    deprecated_after: date | None = None
    removed_after: date | None = None
    grants: list[GrantEntry]
    latest: SnapshotEntry | None = None
    snapshots: list[SnapshotEntry]  # retained snapshots, newest first
    consumers: list[str]


class ColumnEntry(Entry):
    name: str
    type: str
    description: str | None = None
    classification: str | None = None
    required: bool
    unique: bool
    primary_key: bool


class RuleResultEntry(Entry):
    passed: bool
    failing_rows: int | None = None
    detail: str = ""
    evaluated_at: datetime
    run_id: str


class RuleEntry(Entry):
    port: str
    id: str
    kind: str
    description: str
    severity: str
    result: RuleResultEntry | None = None


class FreshnessEntry(Entry):
    sla: str
    window_seconds: float
    status: Literal["fresh", "stale", "unpublished"]
    published_at: datetime | None = None
    age_seconds: float | None = None
    as_of: datetime


class ConsumerEntry(Entry):
    product: str
    domain: str
    version: str
    cross_domain: bool


class GateRunEntry(Entry):
    at: datetime
    run_id: str
    passed: bool
    rows: int | None = None
    rules_failed: int


class LineageEntry(Entry):
    upstream: list[str]  # every product upstream (up to the depth shown), nearest first
    downstream: list[str]
    edges: list[tuple[str, str]]  # producer -> consumer, among the products above and this one


class ProductEntry(Entry):
    key: str
    domain: str
    name: str
    page: str  # relative to the catalog root
    status: str
    kind: str
    engine: str
    purpose: str
    usage: str | None = None
    limitations: str | None = None
    owner: OwnerEntry
    tags: list[str]
    retention: str | None = None
    schedule: str | None = None
    inputs: list[str]
    ports: list[PortEntry]
    columns: list[ColumnEntry]
    rules: list[RuleEntry]
    freshness: FreshnessEntry
    consumers: list[ConsumerEntry]
    lineage: LineageEntry
    gate_runs: list[GateRunEntry]  # newest first


class DomainEntry(Entry):
    name: str
    description: str
    owner: OwnerEntry
    products: list[str]
    upstream_domains: list[str]
    downstream_domains: list[str]


class MetricEntry(Entry):
    name: str
    title: str
    computed_at: datetime
    source: Literal["materialized", "computed"]  # by the Dagster asset, or at catalog build
    summary: dict[str, Any]
    rows: list[dict[str, Any]]


class CatalogExport(Entry):
    schema_version: Literal[1] = 1
    generated_at: datetime
    environment: str
    instance: bool  # whether a Dagster instance was read (gate results and their history)
    dagster_url: str | None = None  # the Dagster UI's base URL (MESH_DAGSTER_URL): pages link to their assets
    domains: list[DomainEntry]
    products: list[ProductEntry]
    metrics: list[MetricEntry]
    # What does not load (every problem), and the domains it holds back: those are shown, not hidden.
    problems: list[str] = []
    broken: dict[str, list[str]] = {}
