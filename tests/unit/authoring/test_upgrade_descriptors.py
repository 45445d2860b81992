"""`mesh upgrade` moves product descriptors written in Meshwork's older form to ODPS v1.0.0 documents:
it says what it changed per file, the mesh loads the same products afterwards, a second run has
nothing to do, a dry run writes nothing, and a failure writes nothing at all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from meshwork.authoring.upgrade import upgrade
from meshwork.model.loader import load_mesh
from tests import odps_official
from tests.conftest import mesh_cli

# The older form, as Meshwork wrote descriptors before they were ODPS (written here, not taken from git).
OLD = {
    "sales/products/orders.yaml": """\
apiVersion: v1.0.0
kind: DataProduct
id: sales.orders
name: orders
domain: sales
status: active
productKind: source-aligned
description:
  purpose: Every order placed in the web shop, the app and the marketplace, one row per order.
  usage: Join to order_lines on order_id for amounts; filter status = 'completed' for recognised sales.
  limitations: Times are UTC. Orders are final once exported; cancellations appear as a status change.
implementation: {engine: dbt, model: orders}
inputPorts:
  # Read only to check that every order's customer exists (contract rule customer_id.foreign_key).
  - {product: customers/customer_profiles, version: v1}
outputPorts:
  - contract: ../contracts/orders.odcs.yaml
    visibility: public
sources:
  - {system: shop, table: orders, columns: [order_id, customer_id, order_ts, status, region, currency, channel]}
sla:
  freshness: 26h
  schedule: "0 * * * *"
tags: [core, orders]
""",
    "finance/products/daily_revenue.yaml": """\
apiVersion: v1.0.0
kind: DataProduct
id: finance.daily_revenue
name: daily_revenue
domain: finance
productKind: aggregate
description:
  purpose: Gross, refunded and net revenue per day, region and currency.
  usage: The reference for revenue reporting; amounts are in the order currency, not converted.
implementation: {engine: dbt}
inputPorts:
  - {product: sales/orders, version: v1}
  - {product: sales/order_lines, version: v1}
outputPorts:
  - contract: ../contracts/daily_revenue.odcs.yaml
sla:
  freshness: 28h
tags: [revenue]
""",
    "customers/products/customer_profiles.yaml": """\
apiVersion: v1.0.0
kind: DataProduct
id: customers.customer_profiles
name: customer_profiles
domain: customers
status: active
productKind: source-aligned
description:
  purpose: The golden record of every customer from the CRM, including contact details.
  usage: Join on customer_id. Contains personal data; read it only for a declared purpose.
  limitations: Contact details are as entered by the customer; emails are lower-cased.
implementation: {engine: python}
outputPorts:
  - contract: ../contracts/customer_profiles.odcs.yaml
    visibility: restricted
    grants:
      - consumer: marketing/customer_360
        purpose: Campaign targeting of customers who consented to marketing email.
        pii: true
        expires: 2027-12-31
      - consumer: sales/orders
        purpose: Check that every order belongs to a known customer (contract foreign key).
      - consumer: support/tickets
        purpose: Check that every ticket belongs to a known customer (contract foreign key).
sources:
  - system: crm
    table: customers
    columns: [customer_id, first_name, last_name, email, phone, birth_date, street, city, postcode, country, created_at]
sla:
  freshness: 26h
  schedule: "30 2 * * *"
tags: [pii, customer]
retention: 1095d
""",
    "support/products/tickets.yaml": """\
apiVersion: v1.0.0
kind: DataProduct
id: support.tickets
name: tickets
domain: support
status: active
productKind: source-aligned
owner: {team: helpdesk-ops, email: helpdesk@example.com}
description:
  purpose: Every customer support ticket from the helpdesk, with its resolution time and rating.
  usage: Join on customer_id; open tickets have no closed_at.
implementation: {engine: python}
inputPorts:
  - {product: customers/customer_profiles, version: v1}
outputPorts:
  - contract: ../contracts/tickets.odcs.yaml
sources:
  - system: helpdesk
    table: tickets
    columns: [ticket_id, customer_id, opened_at, closed_at, channel, priority, category, satisfaction]
sla:
  freshness: 8h
  schedule: "15 */4 * * *"
retention: 730d
retentionColumn: opened_at
tags: [support]
""",
}
FILES = [f"domains/{rel}" for rel in OLD]


def make_old(project: Path) -> dict[str, bytes]:
    for rel, text in OLD.items():
        (project / "domains" / rel).write_text(text)
    return {f: (project / f).read_bytes() for f in FILES}


def descriptors(project: Path) -> dict[str, dict]:
    """What the mesh reads from each descriptor (the team and support aside: the owner is compared)."""
    mesh = load_mesh(project)
    return {
        key: {
            **p.descriptor.model_dump(exclude={"team", "support"}),
            "owner": (p.owner.team, p.owner.email),
            "ports": [(port.ref, port.contract.path.name) for port in p.ports],
        }
        for key, p in mesh.products.items()
    }


def test_the_older_form_is_refused_with_a_pointer_to_the_upgrade(project: Path):
    make_old(project)
    mesh = load_mesh(project, strict=False)
    orders = [str(p) for p in mesh.problems if p.product == "sales/orders"]
    assert orders and all("ODPS v1.0.0" in p and "`mesh upgrade` rewrites it" in p for p in orders), orders
    assert any("field 'productKind'" in p and "Extra inputs are not permitted" in p for p in orders), orders


def test_the_upgrade_says_what_it_changed_and_the_mesh_reads_the_same_products(project: Path, tmp_path: Path):
    expected = descriptors(project)
    expected["support/tickets"]["owner"] = ("helpdesk-ops", "helpdesk@example.com")  # the old form's own owner
    before = make_old(project)

    dry = upgrade(project, dry_run=True)
    assert not dry.written and {f.path for f in dry.files} == set(FILES)
    assert {f: (project / f).read_bytes() for f in FILES} == before  # a dry run writes nothing

    result = upgrade(project)
    assert result.written and result.errors == []
    changed = {f.path: f.changes for f in result.files}
    assert set(changed) == set(FILES)  # contracts are current already; the other descriptors too
    assert changed["domains/finance/products/daily_revenue.yaml"] == [
        "productKind, implementation, sla -> customProperties",
        "outputPorts.0: contract ../contracts/daily_revenue.odcs.yaml -> name daily_revenue, version v1, "
        "contractId finance.daily_revenue",
        "inputPorts.0: sales/orders -> contractId sales.orders",
        "inputPorts.1: sales/order_lines -> contractId sales.order_lines",
        "team finance-analytics (the domain's owner)",
        "support mailto:finance-analytics@example.com",
        "status active (the older form's default; ODPS requires it)",  # it had none
        "version 1.0.0 (the product's own release)",
    ]
    assert (
        "owner -> team helpdesk-ops, support mailto:helpdesk@example.com"
        in changed["domains/support/products/tickets.yaml"]
    )
    assert any(
        c.endswith("visibility, grants -> customProperties")
        for c in changed["domains/customers/products/customer_profiles.yaml"]
    )
    comments = {f.path: f.comments_dropped for f in result.files}
    assert (
        comments["domains/sales/products/orders.yaml"] and not comments["domains/finance/products/daily_revenue.yaml"]
    )

    assert descriptors(project) == expected  # the same products, ports, grants, owners
    assert [e for f in FILES for e in odps_official.errors(project / f)] == []
    assert upgrade(project).files == []  # a second run has nothing to do
    assert not list((project / "domains").rglob("*.upgrade"))


def test_a_failure_while_writing_leaves_every_file_as_it_was(project: Path, monkeypatch: pytest.MonkeyPatch):
    before = make_old(project)
    real = Path.replace
    calls = []

    def failing(self: Path, target):
        calls.append(self)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(self, target)

    monkeypatch.setattr(Path, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        upgrade(project)
    monkeypatch.undo()
    assert len(calls) == 3  # two files had been swapped in when the third failed
    assert {f: (project / f).read_bytes() for f in FILES} == before
    assert not list((project / "domains").rglob("*.upgrade"))


def test_a_descriptor_that_cannot_be_converted_is_reported_and_nothing_is_written(project: Path):
    before = make_old(project)
    broken = "domains/finance/products/daily_revenue.yaml"
    text = OLD["finance/products/daily_revenue.yaml"].replace("daily_revenue.odcs.yaml", "revenue.odcs.yaml")
    (project / broken).write_text(text)
    before[broken] = text.encode()
    result = upgrade(project)
    assert not result.written
    assert result.errors == [
        f"{broken}: outputPorts.0: cannot read the id and version of ../contracts/revenue.odcs.yaml"
    ]
    assert {f: (project / f).read_bytes() for f in FILES} == before
    done = mesh_cli("upgrade", env={**os.environ, "MESH_PROJECT_DIR": str(project)}, cwd=project)
    assert done.returncode == 2 and "cannot read the id and version of ../contracts/revenue.odcs.yaml" in done.stderr
    assert {f: (project / f).read_bytes() for f in FILES} == before


def test_the_command_reports_in_json_and_a_second_run_says_nothing_to_do(project: Path):
    make_old(project)
    env = {**os.environ, "MESH_PROJECT_DIR": str(project)}
    done = mesh_cli("upgrade", "--json", env=env, cwd=project)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["written"] is True and report["problems"] == [] and report["errors"] == []
    assert {f["path"] for f in report["files"]} == set(FILES)
    again = mesh_cli("upgrade", env=env, cwd=project)
    assert again.returncode == 0 and "nothing to upgrade" in again.stdout, again.stdout
