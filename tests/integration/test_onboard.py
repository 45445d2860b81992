"""`mesh onboard dbt` brings a standalone dbt-core project in as a domain: its models are copied with
unique names, its public models become products whose contracts are drafted from their real column
types, `mesh check` names every column left to classify, and once classified the domain publishes."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.integration.test_scaffold import cli, snapshot

pytestmark = pytest.mark.slow

FILES = {
    "dbt_project.yml": """\
name: shop_analytics
version: "1.0.0"
profile: shop_analytics
config-version: 2
""",
    "seeds/raw_shipments.csv": """\
shipment_id,order_id,carrier,shipped_at,weight_kg
1,10,dhl,2024-01-02 10:00:00,1.5
2,10,dhl,2024-01-03 11:00:00,0.5
3,11,ups,2024-01-02 09:30:00,2.25
4,12,ups,2024-01-04 16:45:00,3.0
""",
    "models/staging/stg_shipments.sql": """\
select
    cast(shipment_id as bigint) as shipment_id,
    cast(order_id as bigint) as order_id,
    lower(carrier) as carrier,
    cast(shipped_at as timestamp) as shipped_at,
    cast(weight_kg as decimal(10, 2)) as weight_kg
from {{ ref('raw_shipments') }}
""",
    # Named like the sales domain's model: it must be renamed, and the refs to it rewritten.
    "models/marts/orders.sql": """\
select
    order_id,
    min(carrier) as carrier,
    count(*) as shipments,
    sum(weight_kg) as total_weight_kg
from {{ ref('stg_shipments') }}
group by order_id
""",
    "models/marts/carrier_volumes.sql": """\
select
    carrier,
    count(*) as orders
from {{ ref('shop_analytics', 'orders') }}
group by carrier
""",
    "models/marts/schema.yml": """\
models:
  - name: orders
    description: Shipments per order, with the total weight shipped.
    columns:
      - name: order_id
        description: The shop's order id.
        data_tests: [unique, not_null]
""",
}

EXPECTED_COLUMNS = {
    "shipping/orders": {"order_id", "carrier", "shipments", "total_weight_kg"},
    "shipping/carrier_volumes": {"carrier", "orders"},
}


@pytest.fixture
def standalone(tmp_path: Path) -> Path:
    root = tmp_path / "shop_analytics"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def onboard(project: Path, path: Path, *extra: str):
    return cli(project, "onboard", "dbt", str(path), "--domain", "shipping", "--owner", "shipping-team", *extra)


def classify_everything(project: Path) -> None:
    for contract in (project / "domains/shipping/contracts").glob("*.odcs.yaml"):
        data = yaml.safe_load(contract.read_text())
        for prop in data["schema"][0]["properties"]:
            prop["classification"] = "internal"
            prop.setdefault("description", f"The {prop['name'].replace('_', ' ')}.")
        contract.write_text(yaml.safe_dump(data, sort_keys=False))


def test_an_onboarded_project_lists_what_to_classify_then_publishes(project: Path, mesh_home: Path, standalone: Path):
    result = onboard(project, standalone, "--public", "orders,carrier_volumes", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    made = json.loads(result.stdout)
    assert "dbt node 'orders' is 'shipping_orders' in the mesh (the name was taken)" in made["notes"]
    models = project / "dbt_project/models/shipping"
    assert "ref('shipping_orders')" in (models / "marts/carrier_volumes.sql").read_text()
    assert (project / "dbt_project/seeds/shipping/raw_shipments.csv").read_text() == FILES["seeds/raw_shipments.csv"]
    contract = yaml.safe_load((project / "domains/shipping/contracts/orders.odcs.yaml").read_text())
    types = {p["name"]: (p["physicalType"], p["logicalType"]) for p in contract["schema"][0]["properties"]}
    assert types == {
        "order_id": ("BIGINT", "integer"),
        "carrier": ("VARCHAR", "string"),
        "shipments": ("BIGINT", "integer"),
        "total_weight_kg": ("DECIMAL(38,2)", "number"),
    }
    key = contract["schema"][0]["properties"][0]
    assert key["primaryKey"] and key["unique"] and key["description"] == "The shop's order id."
    # The classification draft is a review list beside the contracts, never written into them.
    review = (project / "domains/shipping/contracts/CLASSIFICATION_REVIEW.md").read_text()
    assert "## shipping/orders" in review and "## shipping/carrier_volumes" in review
    assert "| `carrier` | internal | no personal data seen in its name or in 3 sampled values" in review
    assert all("classification" not in p for p in contract["schema"][0]["properties"])

    checked = cli(project, "check", "--json")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    violations = json.loads(checked.stdout)["violations"]
    unclassified = {(v["subject"], v["message"].split("'")[1]) for v in violations if v["policy"] == "classification"}
    assert unclassified == {(product, c) for product, cols in EXPECTED_COLUMNS.items() for c in cols}
    assert {v["domain"] for v in violations} == {"shipping"}

    classify_everything(project)
    checked = cli(project, "check", "--json")
    assert checked.returncode == 0, checked.stdout
    built = cli(project, "build", "--domain", "shipping")
    assert built.returncode == 0, built.stdout + built.stderr
    ports = {row["port"]: row for row in json.loads(cli(project, "ports", "list", "--json").stdout)}
    assert ports["shipping/orders@v1"]["rows"] == 3 and ports["shipping/carrier_volumes@v1"]["rows"] == 2
    root = mesh_home / "ports/shipping/orders/v1"
    snapshot_dir = root / (root / "latest").read_text().strip()
    weight = duckdb.execute(
        f"SELECT total_weight_kg FROM read_parquet('{snapshot_dir}/*.parquet') WHERE order_id = 10"
    ).fetchall()
    assert float(weight[0][0]) == 2.0


@pytest.mark.parametrize(
    "case",
    ["existing domain", "not a dbt project", "unknown public model"],
)
def test_a_refused_onboarding_exits_2_and_writes_nothing(project: Path, mesh_home: Path, standalone: Path, case):
    before = snapshot(project, mesh_home)
    if case == "existing domain":
        result = cli(project, "onboard", "dbt", str(standalone), "--domain", "sales", "--owner", "x")
    elif case == "not a dbt project":
        result = onboard(project, standalone / "models")
    else:
        result = onboard(project, standalone, "--public", "orders,nope")
    assert result.returncode == 2 and result.stderr.startswith("error: "), result.stdout + result.stderr
    assert snapshot(project, mesh_home) == before
