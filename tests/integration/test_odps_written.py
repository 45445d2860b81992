"""What `mesh new` and `mesh onboard` write is ODPS v1.0.0: every descriptor they create is valid against
the official schema (read from the mirror at its tag, tests/odps_official.py) and loads back into the
mesh with its team, support channel and ports by name, version and contractId."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshwork.authoring import scaffold
from meshwork.authoring.onboard import onboard_dbt
from meshwork.model.loader import load_mesh
from tests import odps_official
from tests.integration.test_onboard import FILES

pytestmark = pytest.mark.slow


def written(project: Path, result) -> list[Path]:
    return [
        project / p for p in result.created if p.startswith("domains/") and "/products/" in p and p.endswith(".yaml")
    ]


def test_mesh_new_writes_odps_descriptors_that_load(project: Path, mesh_home: Path):
    scaffold.new_domain(project, "logistics", "logistics-team", "logistics@example.com")
    files = [
        *written(
            project, scaffold.new_product(project, "logistics/shipments", "aggregate", "dbt", ["sales/orders@v1"])
        ),
        *written(project, scaffold.new_product(project, "logistics/depots", "source-aligned", "python", [])),
    ]
    assert [f.name for f in files] == ["shipments.yaml", "depots.yaml"]
    assert [e for f in files for e in odps_official.errors(f)] == []
    shipments = yaml.safe_load(files[0].read_text())
    assert shipments["team"] == {"name": "logistics-team"}
    assert shipments["support"] == [
        {"channel": "logistics-team", "url": "mailto:logistics@example.com", "tool": "email"}
    ]
    assert shipments["inputPorts"] == [{"name": "orders", "version": "v1", "contractId": "sales.orders"}]
    assert shipments["outputPorts"][0] | {"customProperties": None} == {
        "name": "shipments", "version": "v1", "contractId": "logistics.shipments", "customProperties": None
    }  # fmt: skip
    mesh = load_mesh(project, strict=False)
    depots = mesh.product("logistics/depots")
    assert depots.descriptor.sla.schedule and [s.system for s in depots.descriptor.sources] == ["logistics"]
    assert mesh.product("logistics/shipments").owner.email == "logistics@example.com"
    assert [i.ref for i in mesh.product("logistics/shipments").inputs] == ["sales/orders@v1"]


def test_mesh_onboard_writes_odps_descriptors_that_load(project: Path, mesh_home: Path, tmp_path: Path):
    root = tmp_path / "shop_analytics"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    result = onboard_dbt(project, root, "shipping", "shipping-team", public=["orders", "carrier_volumes"])
    files = written(project, result)
    assert sorted(f.name for f in files) == ["carrier_volumes.yaml", "orders.yaml"]
    assert [e for f in files for e in odps_official.errors(f)] == []
    mesh = load_mesh(project, strict=False)
    for key in ("shipping/orders", "shipping/carrier_volumes"):
        product = mesh.product(key)
        assert (product.owner.team, product.owner.email) == ("shipping-team", "shipping-team@example.com")
        assert product.descriptor.implementation.engine == "dbt" and product.current_port.version == "v1"
