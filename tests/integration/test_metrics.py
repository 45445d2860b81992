"""Mesh metrics as Dagster assets: owned by the platform team, downstream of every product, materialized
by `mesh build` in a run of the platform location, and counted from what real builds did."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from meshwork.catalog import metrics, site
from meshwork.catalog.export import CatalogExport
from meshwork.core import settings
from meshwork.locations import metric_assets
from meshwork.locations.platform import defs as platform_defs
from meshwork.model.loader import load_mesh
from meshwork.storage import snapshots
from tests.conftest import REPO, mesh_cli

NAMES = [m.name for m in metrics.METRICS]
KEYS = {dg.AssetKey([metric_assets.PREFIX, n]) for n in NAMES}


@pytest.fixture
def home(built_mesh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the built mesh (ports, audit log, Dagster instance) without its metrics."""
    copy = tmp_path / "built_copy"
    shutil.copytree(built_mesh, copy, ignore=shutil.ignore_patterns("warehouses", "sources", "tmp", "logs", "metrics"))
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


def test_metrics_are_owned_by_the_platform_team_and_depend_on_every_product_they_measure():
    specs = {s.key: s for s in platform_defs().resolve_all_asset_specs() if s.key in KEYS}
    assert set(specs) == KEYS
    products = {dg.AssetKey(k.split("/")) for k in load_mesh(REPO).products}
    for spec in specs.values():
        assert spec.owners == ["team:platform"] and spec.group_name == "mesh_metrics"
        assert {d.asset_key for d in spec.deps} == products, spec.key


def test_the_hourly_schedule_and_mesh_build_run_the_same_metrics_job():
    definitions = platform_defs()
    # As the webserver loads the location: every job of the repository, names unique.
    assert metric_assets.JOB in {j.name for j in definitions.get_repository_def().get_all_jobs()}
    job = definitions.resolve_job_def(metric_assets.JOB)
    assert set(job.asset_layer.selected_asset_keys) == KEYS
    schedule = definitions.resolve_schedule_def("mesh_metrics_hourly")
    assert schedule.job_name == metric_assets.JOB


@pytest.mark.slow
def test_mesh_build_materializes_every_metric_in_a_run_of_the_platform_location(built_mesh: Path):
    """`built_mesh` is one plain `mesh build`: the metrics are not "never materialized" after it."""
    with dg.DagsterInstance.from_config(str(built_mesh / "dagster")) as instance:
        runs = set()
        for key in KEYS:
            event = instance.get_latest_materialization_event(key)
            assert event is not None, f"{key.to_user_string()} was not materialized by mesh build"
            runs.add(event.run_id)
        (run_id,) = runs  # one run measured them all
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.job_name == metric_assets.JOB
        assert run.remote_job_origin is not None and run.remote_job_origin.location_name == "platform"
        assert run.tags.get("meshwork/trigger") == "mesh build"
        # After every domain's run: the metrics saw the whole build.
        domain_runs = [r for r in instance.get_runs() if r.job_name.endswith("_build")]
        assert {r.job_name for r in domain_runs} == {f"{d}_build" for d in load_mesh(REPO).domains}
        started = instance.get_run_stats(run_id).start_time
        assert all((instance.get_run_stats(r.run_id).end_time or 0) <= (started or 0) for r in domain_runs)
    assert {p.stem for p in (built_mesh / "metrics").glob("*.json")} == set(NAMES)


@pytest.mark.slow
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
    # Products nobody reads are rows too, and counted: they are the ones their owners need to see.
    assert consumers["finance/daily_revenue@v1"]["declared_consumers"] == 0
    assert consumers["marketing/customer_segments@v1"]["declared_consumers"] == 0
    assert value("consumers")["summary"]["products_without_consumers"] == 2

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
    assert all(r["changes"] >= 1 for r in lead["rows"])

    # From the first run that set out to build each product to its first snapshot: no git involved.
    first = value("time_to_first_publish")
    assert first["summary"]["measured"] == 7 and first["summary"]["unpublished"] == 0
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for row in first["rows"]:
            domain, name = row["product"].split("/")
            planned = instance.fetch_planned_materializations(dg.AssetKey([domain, name]), limit=1, ascending=True)
            attempt = datetime.fromtimestamp(planned.records[0].timestamp, UTC)
            (oldest,) = snapshots.snapshots(snapshots.version_dir(domain, name, 1))
            published = snapshots.read_manifest(domain, name, 1, oldest).created_at
            assert datetime.fromisoformat(row["first_attempt"]) == attempt
            assert datetime.fromisoformat(row["first_publish"]) == published
            assert row["hours"] == round((published - attempt).total_seconds() / 3600, 4)
    history = (home / "metrics" / "history.jsonl").read_text().splitlines()
    assert {json.loads(line)["name"] for line in history} == set(NAMES)


@pytest.mark.slow
def test_a_subset_materializes_only_the_selected_metrics(home: Path):
    assert set(materialize(home, ["sla_attainment"])) == {"sla_attainment"}
    assert sorted(p.stem for p in (home / "metrics").glob("*.json")) == ["sla_attainment"]


def env_for(project: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_PROJECT_DIR": str(project),
    }


@pytest.mark.slow
def test_a_real_failing_contract_gate_counts_as_a_failed_publish_and_shows_in_the_catalog(
    project: Path, mesh_home: Path, tmp_path: Path
):
    env = env_for(project, mesh_home)
    first = mesh_cli("build", "--orders", "200", "--domain", "customers", "--domain", "support", cwd=project, env=env)
    assert first.returncode == 0, first.stdout[-3000:]
    before = snapshots.latest_snapshot("support", "tickets", 1)
    # The helpdesk starts sending channels in capitals: the contract allows only email, chat and phone.
    code = project / "domains/support/products/tickets.py"
    upper = code.read_text().replace("                channel,\n", "                upper(channel) AS channel,\n")
    code.write_text(upper)
    bad = mesh_cli("build", "--domain", "support", cwd=project, env=env)
    assert bad.returncode == 1 and "support FAILED" in bad.stdout, bad.stdout[-3000:]
    assert "mesh metrics measured" in bad.stdout  # by this failed build, without waiting for the hour
    assert snapshots.latest_snapshot("support", "tickets", 1) == before

    failed = value("failed_publishes")
    assert failed["summary"]["failed_publishes"] == 1 and failed["summary"]["products_affected"] == 1
    (row,) = failed["rows"]
    assert row["product"] == "support/tickets" and row["rules_failed"] == "channel.allowed_values"
    rates = {r["product"]: r for r in value("contract_pass_rate")["rows"]}
    assert (rates["support/tickets"]["evaluations"], rates["support/tickets"]["failed"]) == (2, 1)
    assert (rates["customers/customer_profiles"]["evaluations"], rates["customers/customer_profiles"]["failed"]) == (
        1,
        0,
    )
    # The first publish is still the first build's, the first attempt still the first build's run.
    first = {r["product"]: r for r in value("time_to_first_publish")["rows"]}["support/tickets"]
    published = snapshots.read_manifest("support", "tickets", 1, before).created_at
    assert datetime.fromisoformat(first["first_publish"]) == published

    summary = site.build(load_mesh(project), tmp_path / "site")
    export = CatalogExport.model_validate_json(summary.export.read_text())
    assert {m.source for m in export.metrics} == {"materialized"}
    tickets = next(p for p in export.products if p.key == "support/tickets")
    assert [r.passed for r in tickets.gate_runs[:2]] == [False, True]
    allowed = next(r for r in tickets.rules if r.id == "channel.allowed_values")
    assert allowed.result and not allowed.result.passed and allowed.result.failing_rows
    page = (tmp_path / "site/support/tickets.html").read_text()
    assert 'class="badge failed">failed<' in page and "FAILED — nothing was published" in page
    index = (tmp_path / "site/index.html").read_text()
    failures = index[index.index('id="metric-failed_publishes"') :]
    assert "<code>channel.allowed_values</code>" in failures[: failures.index("</section>")]


@pytest.mark.slow
def test_the_consumers_chart_shows_ports_nobody_consumes_first(home: Path, tmp_path: Path):
    materialize(home, ["consumers"])
    index = (site.build(load_mesh(REPO), tmp_path / "site").index).read_text()
    card = index[index.index('id="metric-consumers"') :]
    chart = card[: card.index("</svg>")]
    labels = re.findall(r'class="chart-label">([^<]+)</text>', chart)
    assert labels[:2] == ["finance/daily_revenue@v1", "marketing/customer_segments@v1"]
    assert len(labels) == 7  # every port version, the two with no consumer included


def test_metrics_tolerate_a_mesh_never_built(project: Path):
    facts = metrics.gather(load_mesh(project), None, datetime.now(UTC))
    values = {m.name: metrics.measure(m, facts)["summary"] for m in metrics.METRICS}
    assert values["sla_attainment"]["attainment"] == 0 and values["sla_attainment"]["unpublished"] == 7
    assert values["contract_pass_rate"]["pass_rate"] is None
    assert values["time_to_first_publish"]["measured"] == 0 and values["time_to_first_publish"]["unpublished"] == 7
    assert values["change_lead_time"]["changes"] == 0


def test_a_first_publish_once_measured_is_kept_after_its_snapshot_is_gone(project: Path):
    """Retention deletes old snapshots; the metric's own last value still knows the first publish."""
    attempt, published = "2026-01-05T10:00:00+00:00", "2026-01-05T10:30:00+00:00"
    previous = {
        "time_to_first_publish": {
            "rows": [{"product": "sales/orders", "first_attempt": attempt, "first_publish": published, "hours": 0.5}]
        }
    }
    facts = metrics.gather(load_mesh(project), None, datetime.now(UTC), previous=previous)
    rows = {r["product"]: r for r in metrics.measure(metrics.BY_NAME["time_to_first_publish"], facts)["rows"]}
    assert rows["sales/orders"] == {
        "product": "sales/orders",
        "first_attempt": attempt,
        "first_publish": published,
        "hours": 0.5,
    }
    assert rows["sales/order_lines"]["hours"] is None  # nothing known about it: not measured, not zero


def test_a_publish_older_than_the_first_recorded_attempt_is_not_measured(project: Path):
    """A replaced Dagster instance forgets the first attempts: a negative time is unknown, not a figure."""
    previous = {
        "time_to_first_publish": {
            "rows": [
                {
                    "product": "sales/orders",
                    "first_attempt": "2026-02-01T00:00:00+00:00",
                    "first_publish": "2026-01-01T00:00:00+00:00",
                    "hours": None,
                }
            ]  # fmt: skip
        }
    }
    facts = metrics.gather(load_mesh(project), None, datetime.now(UTC), previous=previous)
    rows = {r["product"]: r for r in metrics.measure(metrics.BY_NAME["time_to_first_publish"], facts)["rows"]}
    assert rows["sales/orders"]["hours"] is None and rows["sales/orders"]["first_publish"]
