"""OpenLineage events: built from the real mesh, valid against the vendored spec, every facet too."""

from __future__ import annotations

import copy
import json
import os
import uuid
from datetime import UTC, datetime

import pytest
from openlineage.client.serde import Serde

from meshwork.core import settings
from meshwork.lineage import events, naming, quality_events
from meshwork.lineage.column_lineage import ColumnOrigin, InputColumn, Relation
from meshwork.model.loader import load_mesh
from meshwork.model.rules import Rule
from meshwork.quality.validator import QualityReport, RuleResult
from meshwork.storage import snapshots
from tests.lineage_support import PLATFORM_SCHEMAS, schema_errors

DAGSTER_RUN = "0d7c1f3e-1111-4222-8333-444455556666"


@pytest.fixture(scope="module")
def mesh():
    return load_mesh()


def info(engine: str = "dbt") -> events.RunInfo:
    return events.RunInfo(dagster_run_id=DAGSTER_RUN, job_name="__ASSET_JOB", engine=engine)


def manifest(domain: str, product: str, snapshot: str = "20261201T000000000000Z-0d7c1f3e") -> snapshots.Manifest:
    return snapshots.Manifest(
        domain=domain,
        product=product,
        version="v1",
        snapshot_id=snapshot,
        contract_id=f"{domain}.{product}",
        contract_version="1.0.0",
        columns=[snapshots.ColumnEntry(name="revenue_date", type="DATE")],
        row_count=711,
        files=[snapshots.FileEntry(path="data_0.parquet", bytes=1234, sha256="0" * 64)],
        run_id=DAGSTER_RUN,
        created_at=datetime.now(UTC),
        environment="local",
    )


def reports(passed: bool = True) -> list[QualityReport]:
    rule = Rule(
        id="net_revenue.not_null", kind="not_null", description="'net_revenue' is never empty", columns=("net_revenue",)
    )
    return [QualityReport("finance/daily_revenue@v1", 711, [RuleResult(rule, passed, 0 if passed else 3)])]


def as_json(event) -> dict:
    return json.loads(Serde.to_json(event))


def test_start_complete_and_fail_events_are_valid_openlineage_and_so_is_every_facet(mesh):
    product = mesh.products["finance/daily_revenue"]
    columns = {
        "net_revenue": ColumnOrigin(
            (InputColumn(Relation("port", "sales/order_lines/v1"), "line_amount"),),
            "AGGREGATION",
            ((InputColumn(Relation("port", "sales/orders/v1"), "status"), "CONDITIONAL"),),
        )
    }
    rows = ((InputColumn(Relation("port", "sales/orders/v1"), "status"), "FILTER"),)
    reads = [events.PortRead("sales/orders@v1", "20261130T000000000000Z-aaaaaaaa")]
    made = [
        events.start_event(mesh, product, info()),
        events.complete_event(
            mesh, product, info(), reads, [manifest("finance", "daily_revenue")], columns, "select 1", rows
        ),
        events.fail_event(mesh, product, info(), RuntimeError("dbt failed"), reads),
    ]
    for event in map(as_json, made):
        assert schema_errors(event) == [], event["eventType"]
    start, complete, fail = map(as_json, made)
    assert [e["eventType"] for e in (start, complete, fail)] == ["START", "COMPLETE", "FAIL"]
    # One OpenLineage run per product and Dagster run, whichever step emits.
    assert start["run"]["runId"] == complete["run"]["runId"] == fail["run"]["runId"]
    assert uuid.UUID(start["run"]["runId"])
    assert start["job"] == {**start["job"], "namespace": "meshwork.finance", "name": "daily_revenue"}
    assert complete["run"]["facets"]["parent"]["run"]["runId"] == DAGSTER_RUN
    lineage = complete["outputs"][0]["facets"]["columnLineage"]
    orders = naming.port("sales", "orders", 1)
    assert [
        (f["namespace"], f["name"], f["field"], f["transformations"])
        for f in lineage["fields"]["net_revenue"]["inputFields"]
    ] == [
        (*naming.port("sales", "order_lines", 1), "line_amount", [{"type": "DIRECT", "subtype": "AGGREGATION"}]),
        (*orders, "status", [{"type": "INDIRECT", "subtype": "CONDITIONAL"}]),
    ]
    assert lineage["dataset"] == [
        {
            "namespace": orders[0],
            "name": orders[1],
            "field": "status",
            "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}],
        }
    ]


def test_the_complete_event_names_the_snapshots_read_and_published_with_their_facets(mesh):
    product = mesh.products["finance/daily_revenue"]
    reads = [events.PortRead("sales/orders@v1", "20261130T000000000000Z-aaaaaaaa")]
    event = as_json(events.complete_event(mesh, product, info(), reads, [manifest("finance", "daily_revenue")]))
    ports = settings.ports_dir()
    inputs = {i["name"]: i for i in event["inputs"]}
    # The spec's naming table: local files are namespace `file`, name the absolute path.
    assert set(inputs) == {str(ports / "sales/orders/v1"), str(ports / "sales/order_lines/v1")}
    assert all(i["namespace"] == "file" for i in event["inputs"])
    orders, order_lines = inputs[str(ports / "sales/orders/v1")], inputs[str(ports / "sales/order_lines/v1")]
    assert orders["facets"]["version"]["datasetVersion"] == "20261130T000000000000Z-aaaaaaaa"
    assert "version" not in order_lines["facets"]  # declared, not read in this run
    [output] = event["outputs"]
    assert (output["namespace"], output["name"]) == ("file", str(ports / "finance/daily_revenue/v1"))
    facets = output["facets"]
    assert facets["version"]["datasetVersion"] == "20261201T000000000000Z-0d7c1f3e"
    assert facets["dataSource"] == {
        **facets["dataSource"],
        "name": "file",
        "uri": (ports / "finance/daily_revenue/v1").as_uri(),
    }
    assert facets["schema"]["fields"][0] == {**facets["schema"]["fields"][0], "name": "revenue_date", "type": "DATE"}
    assert facets["ownership"]["owners"] == [{"name": "team:finance-analytics", "type": "team"}]
    assert facets["documentation"]["description"] == product.descriptor.description.purpose
    assert "dataQualityAssertions" not in facets  # an input facet: it is on the contract gate's event
    assert output["outputFacets"]["outputStatistics"] == {
        **output["outputFacets"]["outputStatistics"],
        "rowCount": 711,
        "size": 1234,
        "fileCount": 1,
    }
    custom = event["job"]["facets"]["meshwork"]
    assert custom == {
        **custom,
        "domain": "finance",
        "product": "daily_revenue",
        "productKind": "aggregate",
        "implementation": "dbt",
        "portVersion": "v1",
        "portVersions": ["v1"],
    }


def test_a_source_aligned_product_reads_its_landing_files(mesh):
    event = as_json(events.start_event(mesh, mesh.products["sales/orders"], info()))
    landing = [i for i in event["inputs"] if i["name"].startswith(str(settings.sources_dir()))]
    assert [(i["namespace"], i["name"]) for i in landing] == [("file", str(settings.sources_dir() / "shop/orders"))]
    assert landing[0]["facets"]["dataSource"]["uri"] == (settings.sources_dir() / "shop/orders").as_uri()
    assert [f["name"] for f in landing[0]["facets"]["schema"]["fields"]][:2] == ["order_id", "customer_id"]
    assert schema_errors(event) == []


def test_a_fail_event_carries_the_error(mesh):
    product = mesh.products["finance/daily_revenue"]
    event = as_json(events.fail_event(mesh, product, info(), "net_revenue is empty"))
    assert event["run"]["facets"]["errorMessage"]["message"] == "net_revenue is empty"
    assert "version" not in event["outputs"][0]["facets"]  # nothing was published


def test_the_contract_gate_is_a_child_run_whose_input_carries_the_assertions(mesh):
    product = mesh.products["finance/daily_revenue"]
    passed = as_json(
        quality_events.contract_event(mesh, product, info(), reports(), [manifest("finance", "daily_revenue")])
    )
    failed = as_json(quality_events.contract_event(mesh, product, info(), reports(passed=False)))
    for event in (passed, failed):
        assert schema_errors(event) == [], event["eventType"]
    assert (passed["eventType"], failed["eventType"]) == ("COMPLETE", "FAIL")
    assert passed["job"] == {**passed["job"], "namespace": "meshwork.finance", "name": "daily_revenue.contract"}
    product_run = as_json(events.start_event(mesh, product, info()))["run"]["runId"]
    assert passed["run"]["facets"]["parent"]["run"]["runId"] == product_run != passed["run"]["runId"]
    assert passed["outputs"] == []
    [checked] = passed["inputs"]
    assert (checked["namespace"], checked["name"]) == naming.port("finance", "daily_revenue", 1)
    assert checked["facets"]["version"]["datasetVersion"] == "20261201T000000000000Z-0d7c1f3e"
    assert checked["inputFacets"]["dataQualityAssertions"]["assertions"] == [
        {
            "assertion": "not_null",
            "success": True,
            "column": "net_revenue",
            "severity": "error",
            "name": "net_revenue.not_null",
            "description": "'net_revenue' is never empty",
            "actual": "0 failing rows",
            "params": {},
        }
    ]
    [assertion] = failed["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert assertion["success"] is False and assertion["actual"] == "3 failing rows"
    assert "version" not in failed["inputs"][0]["facets"]  # nothing was published


def test_another_producer_naming_the_same_files_by_the_spec_names_the_same_dataset(mesh, tmp_path):
    """A second producer (a notebook reading the port's Parquet folder) names it from the path alone."""
    product = mesh.products["finance/daily_revenue"]
    ours = as_json(events.complete_event(mesh, product, info(), [], [manifest("finance", "daily_revenue")]))
    folder = settings.ports_dir() / "finance" / "daily_revenue" / "v1"
    theirs = {"namespace": "file", "name": os.path.abspath(folder)}  # the spec: file, absolute path
    assert {"namespace": ours["outputs"][0]["namespace"], "name": ours["outputs"][0]["name"]} == theirs


def test_ports_on_s3_are_named_by_bucket_and_key(monkeypatch):
    monkeypatch.setenv("MESH_PORTS_URL", "s3://mesh-ports/prod")
    assert naming.port("sales", "orders", 2) == ("s3://mesh-ports", "prod/sales/orders/v2")
    assert naming.uri(*naming.port("sales", "orders", 2)) == "s3://mesh-ports/prod/sales/orders/v2"
    monkeypatch.setenv("MESH_PORTS_URL", "s3://mesh-ports")
    assert naming.port("sales", "orders", 1) == ("s3://mesh-ports", "sales/orders/v1")


def test_the_validator_rejects_a_broken_event_and_a_broken_facet(mesh):
    good = as_json(events.start_event(mesh, mesh.products["finance/daily_revenue"], info()))
    no_run_id = copy.deepcopy(good)
    del no_run_id["run"]["runId"]
    assert any("'runId' is a required property" in e for e in schema_errors(no_run_id))
    bad_custom = copy.deepcopy(good)
    del bad_custom["job"]["facets"]["meshwork"]["portVersion"]
    assert any(e.startswith("job.meshwork:") and "portVersion" in e for e in schema_errors(bad_custom))
    bad_schema = copy.deepcopy(good)
    bad_schema["outputs"][0]["facets"]["schema"]["fields"] = [{"type": "DATE"}]
    assert any("schema" in e and "'name' is a required property" in e for e in schema_errors(bad_schema))


def test_the_custom_facet_schema_url_is_the_schema_shipped_in_the_package():
    schema = json.loads((PLATFORM_SCHEMAS / "MeshworkProductJobFacet.json").read_text())
    assert schema["$id"] == events.PRODUCT_FACET_SCHEMA


def test_the_fast_serializer_writes_exactly_what_the_openlineage_serde_writes(mesh):
    from meshwork.lineage.delivery import to_dict

    product = mesh.products["finance/daily_revenue"]
    made = [
        events.start_event(mesh, product, info()),
        events.complete_event(mesh, product, info(), [], [manifest("finance", "daily_revenue")]),
        events.fail_event(mesh, product, info(), RuntimeError("boom")),
        quality_events.contract_event(mesh, product, info(), reports(passed=False)),
    ]
    for event in made:
        assert json.dumps(to_dict(event), sort_keys=True) == Serde.to_json(event)
