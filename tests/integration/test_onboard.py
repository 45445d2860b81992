"""`mesh onboard dbt` brings a standalone dbt-core project in as a domain: its models are copied with
unique names, its public models become products whose contracts are drafted from their real column
types, `mesh check` names every column left to classify, and once classified the domain publishes.
The project here is hand-written for these tests; real public projects: test_onboard_public.py."""

from __future__ import annotations

import json
from datetime import date, datetime
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
    # A local dbt package (beside the project): its macros work in the mesh too.
    "packages.yml": """\
packages:
  - local: ../shop_macros
""",
    "../shop_macros/dbt_project.yml": """\
name: shop_macros
version: "1.0.0"
config-version: 2
""",
    "../shop_macros/macros/kilograms.sql": """\
{% macro kilograms(column) %}cast({{ column }} as decimal(10, 2)){% endmacro %}
""",
    "models/staging/stg_shipments.sql": """\
select
    cast(shipment_id as bigint) as shipment_id,
    cast(order_id as bigint) as order_id,
    lower(carrier) as carrier,
    cast(shipped_at as timestamp) as shipped_at,
    {{ shop_macros.kilograms('weight_kg') }} as weight_kg
from {{ ref('raw_shipments') }}
""",
    # Named like the sales domain's model: it must be renamed, and the refs to it rewritten. Its last three
    # columns break the mesh's naming policy (a DATE, a TIMESTAMP, a BOOLEAN): renamed at the port, not here.
    "models/marts/orders.sql": """\
select
    order_id,
    min(carrier) as carrier,
    count(*) as shipments,
    sum(weight_kg) as total_weight_kg,
    min(cast(shipped_at as date)) as first_shipped,
    max(shipped_at) as last_shipped_date,
    bool_or(carrier = 'ups') as ups
from {{ ref('stg_shipments') }}
group by order_id
""",
    # "group" is a DuckDB reserved word: a fine column name all the same.
    "models/marts/carrier_volumes.sql": """\
select
    carrier,
    count(*) as orders,
    min(carrier) as "group"
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
    "shipping/orders": {
        "order_id",
        "carrier",
        "shipments",
        "total_weight_kg",
        "first_shipped_date",
        "last_shipped_date_at",
        "is_ups",
    },
    "shipping/carrier_volumes": {"carrier", "orders", "group"},
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


def classify_everything(project: Path, domain: str = "shipping") -> None:
    for contract in (project / f"domains/{domain}/contracts").glob("*.odcs.yaml"):
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
        "first_shipped_date": ("DATE", "date"),
        "last_shipped_date_at": ("TIMESTAMP", "timestamp"),
        "is_ups": ("BOOLEAN", "boolean"),
    }
    # Columns that break the naming policy keep their name in the model and get a conforming one at the port.
    assert (models / "marts/shipping_orders.sql").read_bytes() == FILES["models/marts/orders.sql"].encode()
    port = yaml.safe_load((project / "domains/shipping/products/orders.yaml").read_text())["outputPorts"][0]
    assert {"property": "columns", "value": PORT_NAMES} in port["customProperties"]
    for name, column in PORT_NAMES.items():
        assert any(f"column '{column}' of shipping/orders is published as '{name}'" in n for n in made["notes"])
    assert "DATE column: the naming policy says date columns end in _date or _on" in "\n".join(made["notes"])
    key = contract["schema"][0]["properties"][0]
    assert key["primaryKey"] and key["unique"] and key["description"] == "The shop's order id."
    # The classification draft is a review list beside the contracts, never written into them.
    review = (project / "domains/shipping/contracts/CLASSIFICATION_REVIEW.md").read_text()
    assert "## shipping/orders" in review and "## shipping/carrier_volumes" in review
    assert "| `carrier` | internal | no personal data seen in its name or in 3 sampled values" in review
    assert "Renamed at the port: column 'first_shipped' of the model is published as 'first_shipped_date'" in review
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
    published = duckdb.execute(
        f"SELECT first_shipped_date, last_shipped_date_at, is_ups FROM read_parquet('{snapshot_dir}/*.parquet') "
        "ORDER BY order_id"
    ).fetchall()
    assert published == [
        (date(2024, 1, 2), datetime(2024, 1, 3, 11), False),
        (date(2024, 1, 2), datetime(2024, 1, 2, 9, 30), True),
        (date(2024, 1, 4), datetime(2024, 1, 4, 16, 45), True),
    ]
    lineage = json.loads(cli(project, "lineage", "shipping/orders", "--json").stdout)
    assert set(lineage["columns"]) == EXPECTED_COLUMNS["shipping/orders"]
    catalog = cli(project, "catalog", "build", "--out", str(mesh_home / "site"), "--json")
    assert catalog.returncode == 0, catalog.stdout + catalog.stderr
    entries = json.loads((mesh_home / "site/catalog.json").read_text())["products"]
    listed = next(p["columns"] for p in entries if p["key"] == "shipping/orders")
    assert {c["name"] for c in listed} == EXPECTED_COLUMNS["shipping/orders"]
    assert (project / "dbt_project/vendor/shop_macros/macros/kilograms.sql").is_file()
    root = mesh_home / "ports/shipping/carrier_volumes/v1"
    snapshot_dir = root / (root / "latest").read_text().strip()
    groups = duckdb.execute(f"SELECT \"group\" FROM read_parquet('{snapshot_dir}/*.parquet') ORDER BY 1").fetchall()
    assert groups == [("dhl",), ("ups",)]

    # Retention by a column renamed at the port: the port's snapshots by its contract name, the product's
    # table by the model's name.
    descriptor = project / "domains/shipping/products/orders.yaml"
    data = yaml.safe_load(descriptor.read_text())
    data["customProperties"] += [
        {"property": "retention", "value": "1d"},
        {"property": "retentionColumn", "value": "first_shipped_date"},
    ]
    descriptor.write_text(yaml.safe_dump(data, sort_keys=False))
    purged = cli(project, "retention", "purge", "--domain", "shipping", "--json")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    rows = json.loads(purged.stdout)["shipping/orders"]
    assert "shipping/shipping_orders: 3 row(s)" in rows and any(r.startswith("shipping/orders@v1/") for r in rows)

    # A port mapping from a column the model does not have is refused, naming file, field, product and reason.
    descriptor.write_text(
        descriptor.read_text().replace("first_shipped_date: first_shipped", "first_shipped_date: nope")
    )
    checked = cli(project, "check", "--json")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["problems"] == [
        f"{descriptor}: field 'outputPorts[v1].customProperties.columns.first_shipped_date': "
        "product 'shipping/orders': output port v1 publishes contract column 'first_shipped_date' from column 'nope', "
        "which dbt model 'shipping_orders' does not declare (it has ['order_id', 'carrier', 'shipments', "
        "'total_weight_kg', 'first_shipped', 'last_shipped_date', 'ups'])"
    ]
    # Through the mapping, the model column's type is still held to the contract's.
    descriptor.write_text(
        descriptor.read_text().replace("first_shipped_date: nope", "first_shipped_date: first_shipped")
    )
    contract_file = project / "domains/shipping/contracts/orders.odcs.yaml"
    contract_file.write_text(contract_file.read_text().replace("physicalType: DATE", "physicalType: TIMESTAMP"))
    checked = cli(project, "check", "--json")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["problems"] == [
        "dbt_project/models/shipping/marts/shipping_orders.sql: product 'shipping/orders': "
        "dbt column 'first_shipped' has data_type 'date', the ODCS contract says TIMESTAMP"
    ]


PORT_NAMES = {"first_shipped_date": "first_shipped", "last_shipped_date_at": "last_shipped_date", "is_ups": "ups"}

REFUSALS = {
    "existing domain": "domain 'sales' already exists",
    "not a dbt project": "is not a dbt project (no dbt_project.yml)",
    "unknown public model": "no model named nope",
    "unfetchable hub package": "needs dbt packages that cannot be downloaded here (no access to the dbt Hub or git "
    "hosts): dbt-labs/dbt_utils 1.3.3 (dbt Hub) in packages.yml. Vendor them:",
    # A ref onboarding cannot rewrite (built by Jinja) would point at the sales domain's model once the
    # project's own order_lines is renamed: the final check refuses rather than break sales' build.
    "reference left to another domain": "refers to 'order_lines' of domain 'sales' "
    "(models/sales/marts/order_lines.sql)",
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_onboarding_exits_2_and_writes_nothing(project: Path, mesh_home: Path, standalone: Path, case):
    before = snapshot(project, mesh_home)
    if case == "existing domain":
        result = cli(project, "onboard", "dbt", str(standalone), "--domain", "sales", "--owner", "x")
    elif case == "not a dbt project":
        result = onboard(project, standalone / "models")
    elif case == "unknown public model":
        result = onboard(project, standalone, "--public", "orders,nope")
    elif case == "unfetchable hub package":
        (standalone / "packages.yml").write_text("packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.3\n")
        result = onboard(project, standalone)
    else:
        (standalone / "models/marts/order_lines.sql").write_text("select order_id from {{ ref('stg_shipments') }}\n")
        (standalone / "models/marts/shipments.yml").write_text(SHIPMENTS_TESTED_AGAINST_A_BUILT_REF)
        (standalone / "models/marts/shipments.sql").write_text("select * from {{ ref('stg_shipments') }}\n")
        result = onboard(project, standalone)
    assert result.returncode == 2 and result.stderr.startswith("error: "), result.stdout + result.stderr
    assert REFUSALS[case] in result.stderr, result.stderr
    assert result.stderr.count("error: ") == 1
    assert snapshot(project, mesh_home) == before


SHIPMENTS_TESTED_AGAINST_A_BUILT_REF = """\
models:
  - name: shipments
    columns:
      - name: order_id
        data_tests:
          - relationships:
              to: ref('order' ~ '_lines')
              field: order_id
"""
