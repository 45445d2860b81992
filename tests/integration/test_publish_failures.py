"""A product whose data breaks its contract is not published, and the command that ran it fails."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from meshwork.storage import snapshots
from tests.conftest import dagster_cli, mesh_cli

pytestmark = pytest.mark.slow


def env_for(project: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_PROJECT_DIR": str(project),
    }


def test_a_contract_column_missing_from_the_produced_data_fails_the_run_and_keeps_latest(
    project: Path, mesh_home: Path
):
    env = env_for(project, mesh_home)
    # support's contract checks customer ids against the customers port: build customers first.
    first = mesh_cli("build", "--orders", "200", "--domain", "customers", "--domain", "support", cwd=project, env=env)
    assert first.returncode == 0, first.stdout[-3000:]
    before = snapshots.latest_snapshot("support", "tickets", 1)
    assert before

    code = project / "domains/support/products/tickets.py"
    code.write_text(
        code.read_text().replace(
            "                satisfaction\n            FROM raw", "                NULL AS unused\n            FROM raw"
        )
    )
    bad = dagster_cli(
        "asset", "materialize", "-m", "domains.support.definitions", "--select", "*", cwd=project, env=env
    )
    assert bad.returncode != 0
    output = bad.stdout + bad.stderr
    assert (
        "support/tickets" in output
        and "column 'satisfaction' is present as INTEGER (the column is missing from the produced data)" in output
    )
    assert snapshots.latest_snapshot("support", "tickets", 1) == before
    assert snapshots.snapshots(snapshots.version_dir("support", "tickets", 1)) == [before]


def test_mesh_build_exits_non_zero_and_names_the_failing_domain(project: Path, mesh_home: Path):
    env = env_for(project, mesh_home)
    code = project / "domains/support/products/tickets.py"
    code.write_text(
        code.read_text().replace(
            "channel,\n                priority", "CAST(channel AS INTEGER) AS channel,\n                priority"
        )
    )
    result = mesh_cli("build", "--orders", "200", "--domain", "support", "--domain", "customers", cwd=project, env=env)
    assert result.returncode == 1
    assert "support FAILED" in result.stdout
    assert "customers ok" in result.stdout
    assert snapshots.latest_snapshot("support", "tickets", 1) is None


def test_an_invalid_mesh_fails_mesh_build_and_check_with_exit_2_and_the_file(project: Path, mesh_home: Path):
    env = env_for(project, mesh_home)
    (project / "domains/finance/products/daily_revenue.yaml").write_text("kind: DataProduct\n")
    for args in (["build"], ["check"]):
        result = mesh_cli(*args, cwd=project, env=env)
        assert result.returncode == 2, result
        assert "daily_revenue.yaml" in result.stderr
    # The broken domain published nothing; unrelated domains were built (blast radius, test_blast_radius.py).
    assert not (mesh_home / "ports" / "finance").exists()


def test_a_broken_descriptor_fails_dagster_definitions_validate_with_the_reason(project: Path, mesh_home: Path):
    env = env_for(project, mesh_home)
    path = project / "domains/sales/products/orders.yaml"
    path.write_text(path.read_text().replace("freshness: 26h", "freshness: soon"))
    result = dagster_cli("definitions", "validate", "-w", "workspace.yaml", cwd=project, env=env)
    assert result.returncode != 0
    assert (
        "orders.yaml" in result.stdout + result.stderr and "'soon' is not a duration" in result.stdout + result.stderr
    )


def test_a_dbt_product_whose_model_drifts_from_the_contract_fails_at_load(project: Path, mesh_home: Path):
    env = env_for(project, mesh_home)
    yml = project / "dbt_project/models/sales/marts/orders.yml"
    yml.write_text(
        yml.read_text().replace("{name: customer_id, data_type: bigint}", "{name: customer_id, data_type: varchar}")
    )
    result = mesh_cli("check", "--json", cwd=project, env=env)
    assert result.returncode == 2
    assert "dbt column 'customer_id' has data_type 'varchar', the ODCS contract says BIGINT" in result.stdout


def test_a_dbt_model_reading_an_undeclared_port_fails_at_load(project: Path, mesh_home: Path):
    env = env_for(project, mesh_home)
    sql = project / "dbt_project/models/finance/marts/daily_revenue.sql"
    sql.write_text(
        sql.read_text().replace(
            "order_lines as (",
            "tickets as (\n    select * from {{ source('port_support', 'tickets_v1') }}\n),\n\norder_lines as (",
        )
    )
    result = mesh_cli("check", cwd=project, env=env)
    assert result.returncode == 2
    assert "reads support/tickets@v1 without declaring it in inputPorts" in result.stderr


def test_a_rule_violation_in_the_source_blocks_publish_and_shows_the_rule_count_and_a_sample(
    project: Path, mesh_home: Path
):
    import dagster as dg
    import duckdb

    env = env_for(project, mesh_home)
    first = mesh_cli("build", "--orders", "300", "--domain", "customers", "--domain", "sales", cwd=project, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    before = snapshots.latest_snapshot("sales", "orders", 1)
    # The shop starts exporting an order status the contract does not allow.
    orders = mesh_home / "sources/shop/orders/orders.parquet"
    duckdb.execute(
        f"COPY (SELECT * REPLACE (CASE WHEN order_id % 100 = 0 THEN 'lost' ELSE status END AS status) "
        f"FROM '{orders}') TO '{orders}.new' (FORMAT parquet)"
    )
    Path(f"{orders}.new").replace(orders)
    result = mesh_cli("build", "--domain", "sales", "--domain", "finance", cwd=project, env=env)
    assert result.returncode == 1
    assert "sales FAILED" in result.stdout and "[skip] finance" in result.stdout
    assert "'status' is one of ['completed', 'cancelled', 'refunded'], 3 failing row(s)" in result.stdout
    assert snapshots.latest_snapshot("sales", "orders", 1) == before
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as instance:
        key = dg.AssetCheckKey(dg.AssetKey(["sales", "orders"]), "contract")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        evaluation = record.event.dagster_event.event_specific_data
        assert not evaluation.passed
        assert evaluation.metadata["rules_failed"].value == 1
        assert "'lost'" in evaluation.metadata["rules"].value  # the sample shows the bad value


def test_a_domains_pandera_check_failing_in_a_run_forked_after_pandera_was_loaded_blocks_publish(
    project: Path, mesh_home: Path, tmp_path: Path
):
    """sales' own Python check (pandera), in a run the warm worker forks after preloading pandera."""
    import dagster as dg
    import duckdb

    from meshwork.runtime import warm_runs

    env = env_for(project, mesh_home)
    first = mesh_cli("build", "--orders", "300", "--domain", "customers", "--domain", "sales", cwd=project, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    before = snapshots.latest_snapshot("sales", "order_lines", 1)
    lines = mesh_home / "sources/shop/order_lines/order_lines.parquet"
    duckdb.execute(
        f"COPY (SELECT * REPLACE (CASE WHEN order_id % 50 = 0 THEN 0 ELSE quantity END AS quantity) "
        f"FROM '{lines}') TO '{lines}.new' (FORMAT parquet)"
    )
    Path(f"{lines}.new").replace(lines)
    worker_log, run_log = tmp_path / "worker.log", tmp_path / "sales.log"
    with warm_runs.session(worker_log):
        warm_runs.ensure_instance()
        deadline = time.monotonic() + 300
        while "loaded pandera for the domains' Python checks" not in worker_log.read_text():
            if time.monotonic() > deadline:  # a wait guard, not a timed assertion
                raise TimeoutError(worker_log.read_text())
            time.sleep(0.2)
        with run_log.open("w") as out:
            code = warm_runs.run_located("sales", "sales_build", {}, out)
    assert code == 1, run_log.read_text()[-3000:]
    assert "forked sales_build" in worker_log.read_text()
    assert snapshots.latest_snapshot("sales", "order_lines", 1) == before
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as instance:
        key = dg.AssetCheckKey(dg.AssetKey(["sales", "order_lines"]), "contract")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        evaluation = record.event.dagster_event.event_specific_data
    failed = [r for r in evaluation.metadata["rule_results"].value if not r["passed"]]
    assert [r["description"] for r in failed] == ["Every line sells at least one unit at a positive price."], failed
    assert failed[0]["failing_rows"] > 0
