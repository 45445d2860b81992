"""OpenLineage end to end: the built example mesh's events, a real HTTP backend up, down and slow, FAIL."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import dagster_cli, mesh_cli
from tests.integration.test_mesh_build import PRODUCTS
from tests.lineage_support import free_port, read_events, receiver, schema_errors

pytestmark = pytest.mark.slow


def latest_snapshot(home: Path, product: str) -> str:
    return (home / "ports" / product / "v1" / "latest").read_text().strip()


def job_of(e: dict) -> str:
    return f"{e['job']['namespace'].removeprefix('meshwork.')}/{e['job']['name']}"


def by_product(events: list[dict]) -> dict[str, list[dict]]:
    """The events of the product jobs (not the contract gates' nor the domain runs')."""
    found: dict[str, list[dict]] = {}
    for e in events:
        if "meshwork" in e["job"].get("facets", {}):
            found.setdefault(job_of(e), []).append(e)
    return found


def relative(home: Path, name: str) -> str:
    """A port dataset's name (its folder's absolute path, the spec's `file` naming) as <domain>/<product>/v<N>."""
    return Path(name).relative_to(home / "ports").as_posix()


def test_every_product_of_the_built_mesh_emitted_start_then_complete_valid_against_the_spec(built_mesh: Path):
    events = read_events(built_mesh / "lineage/events.jsonl")
    assert events, "no events in the default file transport"
    for event in events:
        assert schema_errors(event) == [], (event["eventType"], event["job"]["name"])
    runs = by_product(events)
    assert set(runs) == set(PRODUCTS)
    for product, product_events in runs.items():
        by_run: dict[str, list[str]] = {}
        for e in product_events:
            by_run.setdefault(e["run"]["runId"], []).append(e["eventType"])
        assert ["START", "COMPLETE"] in by_run.values(), product
        complete = [e for e in product_events if e["eventType"] == "COMPLETE"][-1]
        [output] = complete["outputs"]
        assert (output["namespace"], output["name"]) == ("file", str(built_mesh / "ports" / product / "v1"))
        assert output["facets"]["version"]["datasetVersion"] == latest_snapshot(built_mesh, product)
        assert complete["job"]["facets"]["meshwork"]["product"] == product.split("/")[1]
        # The contract gate: a child run reading the port version it checked, assertions as an input facet.
        [gate] = [e for e in events if job_of(e) == f"{product}.contract" and e["eventType"] == "COMPLETE"][-1:]
        assert gate["run"]["facets"]["parent"]["run"]["runId"] == complete["run"]["runId"]
        [checked] = gate["inputs"]
        assert checked["name"] == output["name"]
        assert checked["facets"]["version"]["datasetVersion"] == latest_snapshot(built_mesh, product)
        assert all(a["success"] for a in checked["inputFacets"]["dataQualityAssertions"]["assertions"])
    # Each domain run is the parent job, with its own START and COMPLETE (mesh build sends the end).
    for domain in {p.split("/")[0] for p in PRODUCTS}:
        parent = [e for e in events if job_of(e) == f"{domain}/{domain}_build"]
        assert [e["eventType"] for e in parent] == ["START", "COMPLETE"], domain
        children = [e for e in runs_of_domain(runs, domain) if e["eventType"] == "COMPLETE"]
        assert {c["run"]["facets"]["parent"]["run"]["runId"] for c in children} == {parent[0]["run"]["runId"]}
    assert not (built_mesh / "lineage/outbox.jsonl").exists()


def runs_of_domain(runs: dict[str, list[dict]], domain: str) -> list[dict]:
    return [e for product, found in runs.items() if product.startswith(f"{domain}/") for e in found]


def test_inputs_are_the_snapshots_the_consumer_read_and_dbt_products_have_column_lineage(built_mesh: Path):
    runs = by_product(read_events(built_mesh / "lineage/events.jsonl"))
    complete = [e for e in runs["finance/daily_revenue"] if e["eventType"] == "COMPLETE"][-1]
    reads = [json.loads(line) for line in (built_mesh / "audit/audit.jsonl").read_text().splitlines()]
    read_snapshots = {(r["port"], r["snapshot"]) for r in reads if r["action"] == "port.read"}
    inputs = {relative(built_mesh, i["name"]): i["facets"]["version"]["datasetVersion"] for i in complete["inputs"]}
    assert set(inputs) == {"sales/orders/v1", "sales/order_lines/v1"}
    for name, snapshot in inputs.items():
        domain, product, version = name.split("/")
        assert (f"{domain}/{product}@{version}", snapshot) in read_snapshots
    fields = complete["outputs"][0]["facets"]["columnLineage"]["fields"]
    used = {
        (relative(built_mesh, f["name"]), f["field"], t["type"], t["subtype"])
        for f in fields["net_revenue"]["inputFields"]
        for t in f["transformations"]
    }
    # status only decides which orders' values are summed (CASE WHEN): INDIRECT, not DIRECT.
    assert used == {
        ("sales/order_lines/v1", "line_amount", "DIRECT", "AGGREGATION"),
        ("sales/orders/v1", "status", "INDIRECT", "CONDITIONAL"),
    }
    rows = complete["outputs"][0]["facets"]["columnLineage"]["dataset"]
    decided = {(relative(built_mesh, f["name"]), f["field"], f["transformations"][0]["subtype"]) for f in rows}
    assert ("sales/orders/v1", "status", "FILTER") in decided  # where status in ('completed', 'refunded')
    assert ("sales/orders/v1", "order_id", "JOIN") in decided
    assert ("sales/orders/v1", "region", "GROUP_BY") in decided
    assert complete["job"]["facets"]["sql"]["query"].lstrip().lower().startswith("with orders as")
    # A Python product has no SQL to parse: no column lineage rather than a made-up one.
    tickets = [e for e in runs["support/tickets"] if e["eventType"] == "COMPLETE"][-1]
    assert "columnLineage" not in tickets["outputs"][0]["facets"]


def test_mesh_lineage_shows_products_across_domains_and_columns(built_mesh: Path):
    env = {**os.environ, "MESH_HOME": str(built_mesh), "DAGSTER_HOME": str(built_mesh / "dagster")}
    result = mesh_cli("lineage", "marketing/customer_360", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {u["product"] for u in data["upstream"] if u["depth"] == 1} == {
        "customers/customer_profiles",
        "sales/orders",
        "sales/order_lines",
        "support/tickets",
    }
    [segments] = [d for d in data["downstream"] if d["product"] == "marketing/customer_segments"]
    assert segments["cross_domain"] is False and segments["depth"] == 1
    assert data["columns"]["avg_satisfaction"]["from"] == [
        {"kind": "port", "dataset": "support/tickets/v1", "column": "satisfaction"}
    ]
    deep = json.loads(mesh_cli("lineage", "finance/daily_revenue", "--json", env=env).stdout)
    shallow = json.loads(mesh_cli("lineage", "finance/daily_revenue", "--json", "--depth", "1", env=env).stdout)
    # sales/orders checks its customer ids against the customers port: two hops from finance.
    assert [(u["product"], u["depth"]) for u in deep["upstream"] if u["depth"] > 1] == [
        ("customers/customer_profiles", 2)
    ]
    assert {u["product"] for u in shallow["upstream"]} == {"sales/orders", "sales/order_lines"}
    # Inside a domain, what dbt's ref() knows (and Dagster draws) is lineage too.
    lines = json.loads(mesh_cli("lineage", "sales/order_lines", "--json", env=env).stdout)
    direct = [(u["product"], u["port_version"]) for u in lines["upstream"] if u["depth"] == 1]
    assert direct == [("sales/orders", "ref")]
    text = mesh_cli("lineage", "sales/orders", env=env)
    assert "finance/daily_revenue@v1" in text.stdout and "status" in text.stdout
    unknown = mesh_cli("lineage", "sales/nope", env=env)
    assert unknown.returncode == 2 and "unknown product 'sales/nope'" in unknown.stderr


@pytest.fixture
def copied_home(built_mesh: Path, tmp_path: Path) -> Path:
    """The built mesh's MESH_HOME, copied: support can be rebuilt against the published customers port."""
    home = tmp_path / "home"
    shutil.copytree(built_mesh, home, ignore=shutil.ignore_patterns("lineage", "catalog"))
    return home


def build_support(home: Path, project: Path | None = None, **extra: str):
    env = {
        **os.environ,
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_LINEAGE_TIMEOUT": "1",
        **extra,
    }
    if project is not None:
        env["MESH_PROJECT_DIR"] = str(project)
    cwd = project or Path(env["MESH_PROJECT_DIR"])
    return env, dagster_cli(
        "asset", "materialize", "-m", "domains.support.definitions", "--select", "*", cwd=cwd, env=env
    )


def types(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["job"]["name"], e["eventType"]) for e in events]


# `dagster asset materialize` (no mesh build, no daemon): the domain run's START, the product's run, its gate.
SUPPORT_RUN = [
    ("__ASSET_JOB", "START"),
    ("tickets", "START"),
    ("tickets.contract", "COMPLETE"),
    ("tickets", "COMPLETE"),
]


def test_a_run_sends_its_events_to_a_real_http_backend(copied_home: Path):
    with receiver() as backend:
        _, result = build_support(copied_home, OPENLINEAGE_URL=backend.url)
        assert result.returncode == 0, result.stdout[-3000:]
    assert types(backend.events) == SUPPORT_RUN
    assert all(schema_errors(e) == [] for e in backend.events)
    assert not (copied_home / "lineage/outbox.jsonl").exists()


def test_a_backend_that_is_down_does_not_fail_the_run_and_replay_delivers_later(copied_home: Path):
    port = free_port()
    env, result = build_support(copied_home, OPENLINEAGE_URL=f"http://127.0.0.1:{port}")
    assert result.returncode == 0, result.stdout[-3000:]
    queued = read_events(copied_home / "lineage/outbox.jsonl")
    assert types([r["event"] for r in queued]) == SUPPORT_RUN
    with receiver(port=port) as backend:
        replay = mesh_cli("lineage", "replay", "--json", env=env)
        assert replay.returncode == 0, replay.stderr
        assert json.loads(replay.stdout) == {**json.loads(replay.stdout), "delivered": 4, "remaining": 0}
    assert types(backend.events) == SUPPORT_RUN
    assert all(schema_errors(e) == [] for e in backend.events)
    assert read_events(copied_home / "lineage/outbox.jsonl") == []


def test_a_slow_backend_does_not_fail_the_run_and_no_event_is_lost(copied_home: Path):
    with receiver(delay=4) as backend:
        _, result = build_support(copied_home, OPENLINEAGE_URL=backend.url)
        assert result.returncode == 0, result.stdout[-3000:]
        queued = [r["event"] for r in read_events(copied_home / "lineage/outbox.jsonl")]
        # The first event timed out; the run did not wait for the backend again after that.
        assert ("tickets", "COMPLETE") in types(queued)
        assert all(
            "MESH_LINEAGE_TIMEOUT" in r["reason"] or "earlier failure" in r["reason"]
            for r in read_events(copied_home / "lineage/outbox.jsonl")
        )
    # Every event reached the backend late or is still in the outbox: none is lost.
    assert {("tickets", "START"), ("tickets", "COMPLETE")} <= set(types(backend.events) + types(queued))


def test_a_failing_contract_gate_emits_fail_with_the_error_and_the_failed_rules(copied_home: Path, project: Path):
    code = project / "domains/support/products/tickets.py"
    code.write_text(
        code.read_text().replace(
            "                satisfaction\n", "                satisfaction * 10 AS satisfaction\n"
        )
    )
    _, result = build_support(copied_home, project)
    assert result.returncode != 0
    written = read_events(copied_home / "lineage/events.jsonl")
    assert all(schema_errors(e) == [] for e in written)
    events = [e for e in written if e["job"]["name"] == "tickets"]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    fail = events[-1]
    assert "satisfaction" in fail["run"]["facets"]["errorMessage"]["message"]
    assert "version" not in fail["outputs"][0]["facets"]  # nothing was published
    [gate] = [e for e in written if e["job"]["name"] == "tickets.contract"]
    assert gate["eventType"] == "FAIL"
    assertions = gate["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [a["column"] for a in assertions if not a["success"]] == ["satisfaction"]
