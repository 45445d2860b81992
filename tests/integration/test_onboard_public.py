"""Real public dbt projects onboard with zero edits to their SQL, and the whole mesh then builds.

The projects are read at test time from the local mirror (tests/public_dbt.py: pinned commits; skipped
without the mirror, failed under CI=true); nothing of them is committed. dbt-labs/jaffle_shop_duckdb keeps
its raw data as seeds read with ref(); dbt-labs/jaffle-shop reads sources filled by disabled seeds, needs
three dbt packages from the Hub and git, and has unit tests, semantic models, metrics and saved queries.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from tests import public_dbt
from tests.integration.test_onboard import classify_everything
from tests.integration.test_scaffold import cli, snapshot

pytestmark = pytest.mark.slow

RAW = ("customers", "items", "orders", "products", "stores", "supplies")


def onboard(project: Path, path: Path, *extra: str):
    return cli(project, "onboard", "dbt", str(path), "--domain", "jaffle", "--owner", "jaffle-team", "--json", *extra)


def sql_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.sql")}


def test_jaffle_shop_duckdb_onboards_unedited_and_the_whole_mesh_builds(project: Path, mesh_home: Path, tmp_path: Path):
    source = public_dbt.extract(public_dbt.JAFFLE_SHOP_DUCKDB, tmp_path / "jaffle_shop_duckdb")
    before = sql_files(source)
    # Its `customers` mart has DATE columns the mesh's naming policy refuses as they are named (first_order,
    # most_recent_order): they are published under conforming names, renamed at the port.
    result = onboard(project, source, "--public", "orders,customers")
    assert result.returncode == 0, result.stdout + result.stderr
    made = json.loads(result.stdout)
    assert "dbt node 'orders' is 'jaffle_orders' in the mesh (the name was taken)" in made["notes"]
    assert sql_files(source) == before  # the project itself is untouched
    copied = sql_files(project / "dbt_project/models/jaffle")
    # Zero edits: each model is the project's own text, the refs to the renamed model aside.
    assert copied["jaffle_orders.sql"] == before["models/orders.sql"]
    assert copied["customers.sql"] == before["models/customers.sql"].replace("ref('orders')", "ref('jaffle_orders')")
    schema = yaml.safe_load((project / "dbt_project/models/jaffle/schema.yml").read_text())
    assert [m["name"] for m in schema["models"]] == ["customers", "jaffle_orders"]
    # Seeds were loaded before the models ran: every column's type comes from the database.
    contract = yaml.safe_load((project / "domains/jaffle/contracts/orders.odcs.yaml").read_text())
    types = {p["name"]: p["physicalType"] for p in contract["schema"][0]["properties"]}
    assert types["order_id"] == "INTEGER" and types["order_date"] == "DATE" and types["amount"] == "DOUBLE"
    review = (project / "domains/jaffle/contracts/CLASSIFICATION_REVIEW.md").read_text()
    assert "## jaffle/orders" in review and all("classification" not in p for p in contract["schema"][0]["properties"])
    customers = yaml.safe_load((project / "domains/jaffle/contracts/customers.odcs.yaml").read_text())
    names = [p["name"] for p in customers["schema"][0]["properties"]]
    assert "first_order_date" in names and "most_recent_order_date" in names and "first_order" not in names
    port = yaml.safe_load((project / "domains/jaffle/products/customers.yaml").read_text())["outputPorts"][0]
    mapping = {"first_order_date": "first_order", "most_recent_order_date": "most_recent_order"}
    assert {"property": "columns", "value": mapping} in port["customProperties"]
    assert any(
        "column 'first_order' of jaffle/customers is published as 'first_order_date'" in n for n in made["notes"]
    )

    classify_everything(project, "jaffle")
    assert cli(project, "check").returncode == 0
    built = cli(project, "build", "--orders", "200")
    assert built.returncode == 0, built.stdout + built.stderr
    ports = {row["port"]: row for row in json.loads(cli(project, "ports", "list", "--json").stdout)}
    assert ports["jaffle/orders@v1"]["rows"] == 99 and ports["jaffle/customers@v1"]["rows"] == 100
    # The conforming column holds the model's values: each customer's first order date, from the raw seeds.
    root = mesh_home / "ports/jaffle/customers/v1"
    published = root / (root / "latest").read_text().strip()
    first = duckdb.execute(
        f"SELECT customer_id, first_order_date FROM read_parquet('{published}/*.parquet') "
        "WHERE first_order_date IS NOT NULL ORDER BY 1"
    ).fetchall()
    raw = source / "seeds/raw_orders.csv"
    expected = duckdb.execute(
        f"SELECT user_id, min(order_date) FROM read_csv('{raw}') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert first == expected and len(first) > 50
    assert ports["sales/orders@v1"]["rows"] == 200  # the domain whose name was taken still builds its own


def test_jaffle_shop_needs_its_packages_vendored_then_builds_on_csv_landing_with_the_whole_mesh(
    project: Path, mesh_home: Path, tmp_path: Path
):
    source = public_dbt.jaffle_shop(tmp_path / "jaffle-shop")
    before = snapshot(project, mesh_home)
    refused = onboard(project, source, "--public", "orders,customers")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = json.loads(refused.stderr)["error"]  # one message, with every package in it
    for wanted in ("dbt-labs/dbt_utils 1.3.3 (dbt Hub)", "godatadriven/dbt_date 0.17.1 (dbt Hub)", "dbt-audit-helper"):
        assert wanted in message, message
    assert f"to {source}/dbt_packages/" in message and "--packages DIR" in message
    assert snapshot(project, mesh_home) == before  # nothing half-written

    # Vendored where `dbt deps` would have put them, the same project onboards.
    for name, public in public_dbt.PACKAGES_OF_JAFFLE_SHOP.items():
        public_dbt.vendor(public, source / "dbt_packages" / name)
    # `locations` has a TIMESTAMP named opened_date, against the naming policy: renamed at the port.
    result = onboard(project, source, "--public", "orders,customers,locations", "--landing", "csv")
    assert result.returncode == 0, result.stdout + result.stderr
    made = json.loads(result.stdout)
    models = project / "dbt_project/models/jaffle"
    assert sql_files(models)["staging/stg_supplies.sql"] == (source / "models/staging/stg_supplies.sql").read_text()
    assert (project / "dbt_project/vendor/dbt_utils/dbt_project.yml").is_file()
    # The renamed mart is renamed wherever the project names it.
    orders = yaml.safe_load((models / "marts/orders.yml").read_text())
    assert orders["models"][0]["name"] == "jaffle_orders"
    assert orders["unit_tests"][0]["model"] == "jaffle_orders"
    assert orders["semantic_models"][0]["model"] == "ref('jaffle_orders')"
    assert "ref('orders')" not in (models / "marts/orders.yml").read_text()
    # The unit test that feeds a source has typed SQL rows (the source is landed files in the mesh).
    locations = yaml.safe_load((models / "staging/stg_locations.yml").read_text())
    given = locations["unit_tests"][0]["given"][0]
    assert given["format"] == "sql" and "cast('2016-09-01T00:00:00' as TIMESTAMP)" in given["rows"]

    for table in RAW:  # the seeds the project keeps disabled are its sources' data: landed as CSV
        folder = mesh_home / f"sources/ecom/raw_{table}"
        folder.mkdir(parents=True)
        shutil.copy(source / f"seeds/jaffle-data/raw_{table}.csv", folder)
    classify_everything(project, "jaffle")
    assert cli(project, "check").returncode == 0
    built = cli(project, "build", "--orders", "200")
    assert built.returncode == 0, built.stdout + built.stderr
    ports = {row["port"]: row for row in json.loads(cli(project, "ports", "list", "--json").stdout)}
    assert ports["jaffle/orders@v1"]["rows"] == 300 and ports["sales/orders@v1"]["rows"] == 200
    assert any("column 'opened_date' of jaffle/locations is published as 'opened_date_at'" in n for n in made["notes"])
    root = mesh_home / "ports/jaffle/locations/v1"
    published = root / (root / "latest").read_text().strip()
    opened = duckdb.execute(f"SELECT opened_date_at FROM read_parquet('{published}/*.parquet') ORDER BY 1").fetchall()
    stores = source / "seeds/jaffle-data/raw_stores.csv"
    expected = duckdb.execute(f"SELECT date_trunc('day', opened_at) FROM read_csv('{stores}') ORDER BY 1").fetchall()
    assert opened == expected and len(opened) == ports["jaffle/locations@v1"]["rows"] > 0


def test_jaffle_shop_on_parquet_landing_refuses_csv_files_then_builds_from_parquet(
    project: Path, mesh_home: Path, tmp_path: Path
):
    source = public_dbt.jaffle_shop(tmp_path / "jaffle-shop")
    vendored = tmp_path / "vendored"
    for name, public in public_dbt.PACKAGES_OF_JAFFLE_SHOP.items():
        public_dbt.vendor(public, vendored / name)
    result = onboard(project, source, "--public", "orders", "--packages", str(vendored))
    assert result.returncode == 0, result.stdout + result.stderr
    classify_everything(project, "jaffle")
    for table in RAW:
        folder = mesh_home / f"sources/ecom/raw_{table}"
        folder.mkdir(parents=True)
        shutil.copy(source / f"seeds/jaffle-data/raw_{table}.csv", folder)
    wrong = cli(project, "build", "--domain", "jaffle")
    assert wrong.returncode == 1
    assert (
        f"{mesh_home}/sources/ecom/raw_orders/raw_orders.csv is a CSV file where ecom.raw_orders is read as Parquet"
        in (wrong.stdout)
    ), wrong.stdout
    for table in RAW:
        csv_file = mesh_home / f"sources/ecom/raw_{table}/raw_{table}.csv"
        duckdb.execute(f"COPY (SELECT * FROM read_csv('{csv_file}')) TO '{csv_file.with_suffix('.parquet')}'")
        csv_file.unlink()
    built = cli(project, "build", "--domain", "jaffle")
    assert built.returncode == 0, built.stdout + built.stderr
    ports = {row["port"]: row for row in json.loads(cli(project, "ports", "list", "--json").stdout)}
    assert ports["jaffle/orders@v1"]["rows"] == 300
