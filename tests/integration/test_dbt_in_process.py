"""dbt run inside the step's process records the same materializations and checks as the dbt subprocess did,
fails the run clearly on a failing dbt test or SQL error, and can run again in the same process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from meshwork.storage import snapshots, warehouse
from tests.conftest import REPO, dagster_cli, mesh_cli

pytestmark = pytest.mark.slow

# Differ between any two runs: when and in which dbt invocation a node ran.
VOLATILE = {"Execution Duration", "invocation_id"}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MESH_HOME with the sources generated and customers built (sales' contract reads its port)."""
    home = tmp_path_factory.mktemp("dbt-in-process") / "mesh_home"
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "MESH_PROJECT_DIR": str(REPO)}
    result = mesh_cli("build", "--orders", "300", "--domain", "customers", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


@pytest.fixture
def home(upstream: Path, mesh_home: Path) -> Path:
    shutil.copytree(upstream, mesh_home, dirs_exist_ok=True)
    return mesh_home


def materialize(home: Path, *, in_process: bool, project: Path = REPO, select: str = "*"):
    env = {
        **os.environ,
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_PROJECT_DIR": str(project),
        "MESH_DBT_IN_PROCESS": "1" if in_process else "0",
    }
    args = ["asset", "materialize", "-m", "domains.sales.definitions", "--select", select]
    return dagster_cli(*args, cwd=project, env=env)


def last_run(home: Path) -> tuple[dg.DagsterRunStatus, dict[dg.AssetKey, Any], dict[dg.AssetCheckKey, Any]]:
    """The newest run's status, its materializations' metadata and its check evaluations."""
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        run = instance.get_runs(limit=1)[0]
        materializations: dict[dg.AssetKey, Any] = {}
        checks: dict[dg.AssetCheckKey, Any] = {}
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.is_step_materialization:
                m = event.step_materialization_data.materialization
                materializations[m.asset_key] = dict(m.metadata)
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                c = event.asset_check_evaluation_data
                checks[c.asset_check_key] = (c.passed, c.severity, dict(c.metadata))
        return run.status, materializations, checks


def stable(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in VOLATILE}


def test_in_process_dbt_records_the_same_materializations_and_check_results_as_the_subprocess(home: Path):
    before = materialize(home, in_process=False)
    assert before.returncode == 0, before.stdout[-3000:] + before.stderr[-3000:]
    old_status, old_mats, old_checks = last_run(home)

    after = materialize(home, in_process=True)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    assert "running dbt in process" in after.stdout + after.stderr
    new_status, new_mats, new_checks = last_run(home)

    assert old_status == new_status == dg.DagsterRunStatus.SUCCESS
    # Every dbt model (staging views included) and both products, with the same metadata.
    assert (
        set(new_mats)
        == set(old_mats)
        >= {
            dg.AssetKey(["sales", "orders"]),
            dg.AssetKey(["sales", "order_lines"]),
            dg.AssetKey(["sales", "stg_shop__orders"]),
        }
    )
    for key, metadata in new_mats.items():
        assert set(metadata) == set(old_mats[key]), key
        assert {"Execution Duration", "invocation_id", "unique_id", "status"} <= set(metadata), key
        # Input metadata names the port snapshots read, and those are the same in both runs.
        assert stable(metadata) == stable(old_mats[key]), key
    # The dbt test as an asset check next to the contract gates, with the same outcome and metadata.
    dbt_test = dg.AssetCheckKey(dg.AssetKey(["sales", "orders"]), "unique_orders_order_id")
    assert set(new_checks) == set(old_checks)
    assert dbt_test in new_checks and new_checks[dbt_test][0] is True
    for key, (passed, severity, metadata) in new_checks.items():
        old_passed, old_severity, old_metadata = old_checks[key]
        assert (passed, severity) == (old_passed, old_severity), key
        if key == dbt_test:
            assert stable(metadata) == stable(old_metadata)


def test_a_subset_selection_runs_only_the_selected_dbt_models_in_process(home: Path):
    result = materialize(home, in_process=True, select="sales/stg_shop__orders")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "A dbt subsetted execution is being performed" in result.stdout + result.stderr
    status, materializations, checks = last_run(home)
    assert status == dg.DagsterRunStatus.SUCCESS
    assert set(materializations) == {dg.AssetKey(["sales", "stg_shop__orders"])}
    assert not checks


def test_a_failing_dbt_test_fails_the_run_and_records_a_failed_check(project: Path, home: Path):
    yml = project / "dbt_project/models/sales/marts/orders.yml"
    yml.write_text(
        yml.read_text().replace(
            "      - unique: {column_name: order_id}",
            "      - unique: {column_name: order_id}\n"
            "      - accepted_values: {column_name: status, arguments: {values: [nope]}}",
        )
    )
    result = materialize(home, in_process=True, project=project)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "dbt failed (in process)" in output and "accepted_values_orders_status__nope" in output
    status, materializations, checks = last_run(home)
    assert status == dg.DagsterRunStatus.FAILURE
    failed = checks[dg.AssetCheckKey(dg.AssetKey(["sales", "orders"]), "accepted_values_orders_status__nope")]
    assert failed[0] is False and failed[2]["dagster_dbt/failed_row_count"].value > 0
    # The model itself built: its materialization is recorded, as the subprocess path records it.
    assert dg.AssetKey(["sales", "orders"]) in materializations


def test_a_sql_error_in_a_model_fails_the_run_with_dbts_message_and_publishes_nothing(project: Path, home: Path):
    sql = project / "dbt_project/models/sales/staging/stg_shop__orders.sql"
    text = sql.read_text()
    assert "status" in text
    sql.write_text(text.replace("status", "no_such_column", 1))
    result = materialize(home, in_process=True, project=project)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "dbt failed (in process)" in output and "no_such_column" in output and "stg_shop__orders" in output
    status, materializations, _ = last_run(home)
    assert status == dg.DagsterRunStatus.FAILURE
    assert dg.AssetKey(["sales", "orders"]) not in materializations
    assert snapshots.latest_snapshot("sales", "orders", 1) is None


def test_dbt_can_run_twice_in_one_process_and_leaves_the_warehouse_free(home: Path):
    # A long-lived process (this one): dbt's flags and adapter are set up again on every invocation,
    # and the warehouse file is closed after each, so the contract gates and the next run can open it.
    from meshwork.locations.domain import domain_definitions

    defs = domain_definitions("sales")
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(2):
            result = job.execute_in_process(instance=instance)
            assert result.success
            assert {dg.AssetKey(["sales", "orders"]), dg.AssetKey(["sales", "order_lines"])} <= {
                m.asset_key for m in result.asset_materializations_for_node("sales__dbt")
            }
    with warehouse.connect("sales") as con:
        assert con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == 300
