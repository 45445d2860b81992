"""Mesh metrics as Dagster assets, materialized in-process on the instance of a real mesh build."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from meshwork.catalog import metrics, site
from meshwork.catalog.export import CatalogExport
from meshwork.core import settings
from meshwork.locations import metric_assets
from meshwork.model.loader import load_mesh
from tests.conftest import REPO

pytestmark = pytest.mark.slow

NAMES = [m.name for m in metrics.METRICS]


@pytest.fixture
def home(built_mesh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the built mesh (ports, audit log, Dagster instance) that a test may add to."""
    copy = tmp_path / "built_copy"
    shutil.copytree(built_mesh, copy, ignore=shutil.ignore_patterns("warehouses", "sources", "tmp", "logs"))
    monkeypatch.setenv("MESH_HOME", str(copy))
    monkeypatch.setenv("DAGSTER_HOME", str(copy / "dagster"))
    return copy


def materialize(home: Path, selection: list[str] | None = None) -> dict[str, dict]:
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        result = dg.materialize(
            metric_assets.metric_assets(),
            instance=instance,
            selection=[f"{metric_assets.PREFIX}/{n}" for n in selection] if selection else None,
        )
        assert result.success
        return {
            e.asset_key.path[-1]: dict(e.step_materialization_data.materialization.metadata)
            for e in result.get_asset_materialization_events()
        }


def value(name: str) -> dict:
    return json.loads((settings.metrics_dir() / f"{name}.json").read_text())


def test_metric_assets_are_in_the_mesh_metrics_group_under_the_mesh_prefix():
    (assets,) = metric_assets.metric_assets()
    assert {k.to_user_string() for k in assets.keys} == {f"mesh/{n}" for n in NAMES}
    assert set(assets.group_names_by_key.values()) == {"mesh_metrics"}


def test_every_metric_materializes_from_a_built_mesh_and_writes_its_values(home: Path):
    meta = materialize(home)
    assert set(meta) == set(NAMES)
    for name in NAMES:
        v = value(name)
        assert v["name"] == name and v["summary"]
        assert meta[name]["path"].value == str(home / "metrics" / f"{name}.json")
        assert "rows" in meta[name]
    mesh = load_mesh(REPO)

    consumers = {r["port"]: r for r in value("consumers")["rows"]}
    profiles = consumers["customers/customer_profiles@v1"]
    assert profiles["declared_consumers"] == 3 and profiles["cross_domain_consumers"] == 3
    assert profiles["consumers_reading"] == 3  # all three were seen reading in the audit log
    assert meta["consumers"]["consumer_edges"].value == sum(len(p.inputs) for p in mesh.products.values())

    edges = value("cross_domain_edges")
    expected = {(i.domain, p.domain) for p in mesh.products.values() for i in p.inputs if i.domain != p.domain}
    assert {(r["from_domain"], r["to_domain"]) for r in edges["rows"]} == expected
    assert edges["summary"]["connected_domains"] == 5

    assert value("sla_attainment")["summary"] == {
        "products": 7,
        "within_sla": 7,
        "unpublished": 0,
        "attainment": 1.0,
    }
    assert value("contract_pass_rate")["summary"]["pass_rate"] == 1.0
    assert value("contract_pass_rate")["summary"]["evaluations"] == 7
    assert value("failed_publishes")["summary"]["failed_publishes"] == 0

    lead = value("change_lead_time")
    assert lead["summary"]["edges_measured"] == sum(len(p.inputs) for p in mesh.products.values())
    assert lead["summary"]["median_seconds"] > 0  # downstream domains publish after their upstream

    first = value("time_to_first_publish")
    if (REPO / ".git").exists():
        assert first["summary"]["measured"] == 7 and first["summary"]["median_hours"] > 0
    history = (home / "metrics" / "history.jsonl").read_text().splitlines()
    assert {json.loads(line)["name"] for line in history} == set(NAMES)


def test_a_subset_materializes_only_the_selected_metrics(home: Path):
    assert set(materialize(home, ["sla_attainment"])) == {"sla_attainment"}
    assert sorted(p.stem for p in (home / "metrics").glob("*.json")) == ["sla_attainment"]


def test_a_failed_contract_gate_counts_as_a_failed_publish_and_shows_in_the_catalog(home: Path, tmp_path: Path):
    # A run whose `contract` check on sales/orders fails, as the gate reports it.
    @dg.asset(key=["sales", "orders"])
    def orders() -> None:
        return None

    @dg.asset_check(asset=orders, name="contract", blocking=True)
    def contract() -> dg.AssetCheckResult:
        results = [{"port": "sales/orders@v1", "rule": "order_id.unique", "passed": False, "severity": "error",
                    "failing_rows": 3, "detail": ""}]  # fmt: skip
        return dg.AssetCheckResult(
            passed=False, metadata={"rule_results": dg.MetadataValue.json(results), "dagster/row_count": 10}
        )

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        assert not dg.materialize([orders, contract], instance=instance, raise_on_error=False).success
    materialize(home)

    failed = value("failed_publishes")
    assert failed["summary"]["failed_publishes"] == 1 and failed["summary"]["products_affected"] == 1
    assert failed["rows"][0]["product"] == "sales/orders" and failed["rows"][0]["rules_failed"] == "order_id.unique"
    rate = value("contract_pass_rate")["summary"]
    assert (rate["evaluations"], rate["passed"], rate["failed"]) == (8, 7, 1)

    summary = site.build(load_mesh(REPO), tmp_path / "site")
    export = CatalogExport.model_validate_json(summary.export.read_text())
    assert {m.source for m in export.metrics} == {"materialized"}
    orders_entry = next(p for p in export.products if p.key == "sales/orders")
    assert [r.passed for r in orders_entry.gate_runs[:2]] == [False, True]
    unique = next(r for r in orders_entry.rules if r.id == "order_id.unique")
    assert unique.result and not unique.result.passed and unique.result.failing_rows == 3
    page = (tmp_path / "site/sales/orders.html").read_text()
    assert 'class="badge failed">failed<' in page and "FAILED — nothing was published" in page
    index = (tmp_path / "site/index.html").read_text()
    assert 'id="metric-failed_publishes"' in index and "order_id.unique" in index


def test_metrics_tolerate_a_mesh_never_built_and_a_project_outside_git(project: Path):
    facts = metrics.gather(load_mesh(project), None, datetime.now(UTC))
    assert facts.first_commits == {}  # the copied project is not a git repository
    values = {m.name: metrics.measure(m, facts)["summary"] for m in metrics.METRICS}
    assert values["sla_attainment"]["attainment"] == 0 and values["sla_attainment"]["unpublished"] == 7
    assert values["contract_pass_rate"]["pass_rate"] is None
    assert values["time_to_first_publish"]["measured"] == 0
    assert values["change_lead_time"]["changes"] == 0
