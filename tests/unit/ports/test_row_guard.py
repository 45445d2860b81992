"""The row-count guard: a port that publishes 0 rows, or loses more than MESH_ROW_DROP_LIMIT of the previous
snapshot's rows, fails its gate unless its contract opts out (issue 15: an empty export emptied the mesh)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshwork.core.errors import ContractViolation
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.storage import snapshots
from tests.unit.storage.test_ports import build_orders, publish_orders


@pytest.fixture
def mesh(project: Path):
    return load_mesh(project)


def opt_out(project: Path, *properties: dict, level: str = "schema", freshness: bool = True):
    """The orders contract with ``customProperties`` on its schema object (or the whole contract); the mesh."""
    path = project / "domains/sales/contracts/orders.odcs.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not freshness:  # an empty port has no newest order: the freshness rule would fail it anyway
        del data["slaProperties"]
    (data["schema"][0] if level == "schema" else data)["customProperties"] = list(properties)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_mesh(project)


def guard(outcome: publish.PublishOutcome):
    (report,) = outcome.reports
    return next(r for r in report.results if r.rule.kind == "row_guard")


def refused(mesh, rows: int) -> str:
    build_orders(rows)
    with pytest.raises(ContractViolation) as exc:
        publish_orders(mesh, run_id="run-2")
    return str(exc.value)


def test_a_first_publish_of_0_rows_is_refused_and_publishes_nothing(mesh):
    message = refused(mesh, 0)
    assert "sales/orders was not published" in message
    assert "it has 0 rows" in message and "allowEmpty" in message
    assert snapshots.latest_snapshot("sales", "orders", 1) is None


def test_0_rows_after_a_full_snapshot_is_refused_with_both_counts(mesh):
    build_orders(1000)
    first = publish_orders(mesh).manifests[0]
    message = refused(mesh, 0)
    assert "it has 0 rows; the previous snapshot had 1,000" in message
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id


def test_losing_60_percent_of_the_rows_is_refused_with_the_numbers(mesh):
    build_orders(1000)
    first = publish_orders(mesh).manifests[0]
    message = refused(mesh, 400)
    assert (
        "it has 400 rows; the previous snapshot had 1,000: 60% fewer, more than the 50% allowed by MESH_ROW_DROP_LIMIT;"
        " a contract may allow more with customProperties maxRowDrop" in message
    )
    assert snapshots.latest_snapshot("sales", "orders", 1) == first.snapshot_id


def test_losing_40_percent_passes_and_the_report_says_so(mesh):
    build_orders(1000)
    publish_orders(mesh)
    build_orders(600)
    outcome = publish_orders(mesh, run_id="run-2")
    assert outcome.manifests[0].row_count == 600
    result = guard(outcome)
    assert result.passed and not result.detail


def test_the_limit_is_a_setting(mesh, monkeypatch):
    monkeypatch.setenv("MESH_ROW_DROP_LIMIT", "0.7")
    build_orders(1000)
    publish_orders(mesh)
    build_orders(400)
    assert publish_orders(mesh, run_id="run-2").manifests[0].row_count == 400
    build_orders(100)
    assert "75% fewer, more than the 70% allowed" in refused(mesh, 100)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "half"])
def test_a_bad_limit_setting_is_an_error_naming_it(mesh, monkeypatch, value):
    monkeypatch.setenv("MESH_ROW_DROP_LIMIT", value)
    build_orders(10)
    with pytest.raises(ValueError, match=f"MESH_ROW_DROP_LIMIT={value!r}: write a share between 0 and 1"):
        publish_orders(mesh)


@pytest.mark.parametrize("level", ["schema", "contract"])
def test_a_contract_may_allow_a_bigger_drop(project, level):
    mesh = opt_out(project, {"property": "maxRowDrop", "value": 0.9}, level=level)
    build_orders(1000)
    publish_orders(mesh)
    build_orders(200)
    assert publish_orders(mesh, run_id="run-2").manifests[0].row_count == 200
    assert "95% fewer, more than the 90% allowed by maxRowDrop in orders.odcs.yaml" in refused(mesh, 10)


@pytest.mark.parametrize("value", [True, "true"])
def test_a_contract_may_allow_an_empty_port(project, value):
    mesh = opt_out(project, {"property": "allowEmpty", "value": value}, freshness=False)
    build_orders(0)
    assert publish_orders(mesh).manifests[0].row_count == 0  # a first publish
    build_orders(1000)
    publish_orders(mesh, run_id="run-2")
    build_orders(0)
    assert publish_orders(mesh, run_id="run-3").manifests[0].row_count == 0  # empty is a state it may be in
    build_orders(1000)
    publish_orders(mesh, run_id="run-4")
    assert "it has 100 rows; the previous snapshot had 1,000" in refused(mesh, 100)  # a drop is still a drop


@pytest.mark.parametrize(
    ("prop", "said"),
    [
        ({"property": "maxRowDrop", "value": "lots"}, "maxRowDrop 'lots' is not a share between 0 and 1"),
        ({"property": "maxRowDrop", "value": 2}, "maxRowDrop 2 is not a share between 0 and 1"),
        ({"property": "allowEmpty", "value": "sometimes"}, "allowEmpty 'sometimes' is not true or false"),
    ],
)
def test_a_malformed_opt_out_refuses_the_publish_naming_the_contract(project, prop, said):
    mesh = opt_out(project, prop)
    build_orders(10)
    with pytest.raises(ContractViolation) as exc:
        publish_orders(mesh)
    assert said in str(exc.value) and "orders.odcs.yaml" in str(exc.value)
