"""Names with quotes, path separators or SQL fragments are refused at load, wherever they appear.

Names become file paths (ports, warehouses), SQL identifiers and Dagster asset keys; a hostile one
must never get as far as any of those. Each case edits one field of the example mesh and expects
the load to fail naming the file and the field, with nothing written under MESH_HOME.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.errors import MeshDefinitionError
from meshwork.mesh import load_mesh

HOSTILE = [
    'orders"; DROP TABLE x; --',
    "orders' OR '1'='1",
    "../../etc/passwd",
    "sales/orders",
    "orders\\..\\x",
    "Orders",
    "orders with space",
    "ordérs",
    "orders\x00",
    "",
]


def problems_of(project: Path) -> list[str]:
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    return [str(p) for p in exc.value.problems]


def yaml_str(value: str) -> str:
    # Double-quoted YAML scalar, so the hostile text reaches the loader verbatim.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\0") + '"'


def nothing_written(mesh_home: Path) -> None:
    for sub in ("ports", "warehouses"):
        assert not (mesh_home / sub).exists() or not any((mesh_home / sub).rglob("*")), sub


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_product_name_is_refused(project: Path, mesh_home: Path, name: str):
    path = project / "domains/support/products/tickets.yaml"
    path.write_text(path.read_text().replace("name: tickets\n", f"name: {yaml_str(name)}\n", 1))
    problems = problems_of(project)
    assert any("tickets.yaml" in p and "'name'" in p for p in problems), problems
    nothing_written(mesh_home)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_domain_name_in_a_descriptor_is_refused(project: Path, mesh_home: Path, name: str):
    path = project / "domains/support/products/tickets.yaml"
    path.write_text(path.read_text().replace("domain: support\n", f"domain: {yaml_str(name)}\n", 1))
    problems = problems_of(project)
    assert any("tickets.yaml" in p and "'domain'" in p for p in problems), problems
    nothing_written(mesh_home)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_domain_name_in_domain_yaml_is_refused(project: Path, mesh_home: Path, name: str):
    path = project / "domains/support/domain.yaml"
    path.write_text(path.read_text().replace("name: support\n", f"name: {yaml_str(name)}\n", 1))
    problems = problems_of(project)
    assert any("domain.yaml" in p and "field 'name'" in p for p in problems), problems
    nothing_written(mesh_home)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_column_name_in_a_contract_is_refused(project: Path, mesh_home: Path, name: str):
    path = project / "domains/support/contracts/tickets.odcs.yaml"
    path.write_text(path.read_text().replace("{name: category,", f"{{name: {yaml_str(name)},", 1))
    problems = problems_of(project)
    assert any("tickets.odcs.yaml" in p and "properties.6.name" in p for p in problems), problems
    nothing_written(mesh_home)


@pytest.mark.parametrize("version", ["v1; DROP TABLE x", "v1/../../x", "1", "v0", "v01x"])
def test_a_hostile_input_port_version_is_refused(project: Path, version: str):
    path = project / "domains/support/products/tickets.yaml"
    text = path.read_text().replace(
        "{product: customers/customer_profiles, version: v1}",
        f"{{product: customers/customer_profiles, version: {yaml_str(version)}}}",
    )
    path.write_text(text)
    problems = problems_of(project)
    assert any("tickets.yaml" in p and "inputPorts.0.version" in p for p in problems), problems


@pytest.mark.parametrize("ref", ["customers/../sales/orders", "customers/customer_profiles; --", "customers"])
def test_a_hostile_input_product_reference_is_refused(project: Path, ref: str):
    path = project / "domains/support/products/tickets.yaml"
    text = path.read_text().replace(
        "{product: customers/customer_profiles, version: v1}", f"{{product: {yaml_str(ref)}, version: v1}}"
    )
    path.write_text(text)
    problems = problems_of(project)
    assert any("tickets.yaml" in p and "inputPorts.0" in p for p in problems), problems


@pytest.mark.parametrize("team", ["ops; rm -rf /", "../ops", 'ops"'])
def test_a_hostile_owner_team_is_refused(project: Path, team: str):
    path = project / "domains/support/domain.yaml"
    path.write_text(path.read_text().replace("team: support-ops", f"team: {yaml_str(team)}", 1))
    problems = problems_of(project)
    assert any("domain.yaml" in p and "owner.team" in p for p in problems), problems
