"""Names with quotes, path separators or SQL fragments are refused at load, wherever they appear.

Names become file paths (ports, warehouses), SQL identifiers and Dagster asset keys; a hostile one
must never get as far as any of those. Each case edits one field of the example mesh and expects
the load to fail naming the file and the field, with nothing written under MESH_HOME.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.core.errors import MeshDefinitionError
from meshwork.model.loader import load_mesh

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


# Where a name is written: (file, text to replace, replacement with {} for the name, field reported).
PLACES = {
    "product name": ("domains/support/products/tickets.yaml", "name: tickets\n", "name: {}\n", "'name'"),
    "domain in a descriptor": (
        "domains/support/products/tickets.yaml",
        "domain: support\n",
        "domain: {}\n",
        "'domain'",
    ),
    "domain name": ("domains/support/domain.yaml", "name: support\n", "name: {}\n", "field 'name'"),
    "column name": (
        "domains/support/contracts/tickets.odcs.yaml",
        "{name: category,",
        "{{name: {},",
        "properties.6.name",
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_hostile_name_is_refused_naming_file_and_field(project: Path, mesh_home: Path, place: str, name: str):
    relative, old, new, field = PLACES[place]
    path = project / relative
    text = path.read_text()
    assert old in text, f"the example changed: {old!r} is no longer in {relative}"
    path.write_text(text.replace(old, new.format(yaml_str(name)), 1))
    problems = problems_of(project)
    assert any(Path(relative).name in p and field in p for p in problems), problems
    nothing_written(mesh_home)


@pytest.mark.parametrize("version", ["v1; DROP TABLE x", "v1/../../x", "1", "v0", "v01x"])
def test_a_hostile_input_port_version_is_refused(project: Path, version: str):
    path = project / "domains/support/products/tickets.yaml"
    text = path.read_text().replace(
        "{name: customer_profiles, version: v1, contractId: customers.customer_profiles}",
        f"{{name: customer_profiles, version: {yaml_str(version)}, contractId: customers.customer_profiles}}",
    )
    path.write_text(text)
    problems = problems_of(project)
    assert any("tickets.yaml" in p and "inputPorts.0.version" in p for p in problems), problems


@pytest.mark.parametrize("ref", ["customers/../sales/orders", "customers.customer_profiles; --", "customers"])
def test_a_hostile_input_product_reference_is_refused(project: Path, ref: str):
    path = project / "domains/support/products/tickets.yaml"
    text = path.read_text().replace(
        "{name: customer_profiles, version: v1, contractId: customers.customer_profiles}",
        f"{{name: customer_profiles, version: v1, contractId: {yaml_str(ref)}}}",
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
