"""Product descriptors are ODPS v1.0.0 documents: the official schema accepts every one Meshwork ships or
writes, Meshwork's own reading of the standard refuses what the schema refuses, and its own fields
(custom properties) fail with the file, field, product and reason."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from meshwork.core.errors import MeshDefinitionError
from meshwork.model import odps
from meshwork.model.loader import load_mesh
from meshwork.model.product_files import read_descriptor
from tests import odps_official

ORDERS = "domains/sales/products/orders.yaml"


def problems_of(project: Path) -> list[str]:
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    return [str(p) for p in exc.value.problems]


def test_every_example_descriptor_is_valid_against_the_official_odps_schema(project: Path):
    files = sorted((project / "domains").glob("*/products/*.yaml"))
    assert len(files) == 7
    assert [e for f in files for e in odps_official.errors(f)] == []


@pytest.mark.parametrize("path", odps_official.EXAMPLES)
def test_meshworks_model_of_the_standard_accepts_the_standards_own_examples(path: str):
    document = odps_official.example(path)
    schema = odps_official.schema()
    as_json = json.loads(json.dumps(document, default=str))
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(as_json)) == []
    parsed = odps.DataProduct.model_validate(document)  # raises on any key or value it would refuse
    assert parsed.id == document["id"] and len(parsed.output_ports or []) == len(document.get("outputPorts") or [])


def _orders(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ORDERS).read_text())


def _drop_contract_id(d: dict) -> None:
    del d["inputPorts"][0]["contractId"]


def _legacy_key(d: dict) -> None:
    d["productKind"] = "source-aligned"


def _legacy_output_port(d: dict) -> None:
    d["outputPorts"][0] = {"contract": "../contracts/orders.odcs.yaml", "visibility": "public"}


def _property_without_value(d: dict) -> None:
    d["customProperties"].append({"property": "retention"})


def _support_without_url(d: dict) -> None:
    del d["support"][0]["url"]


def _port_without_version(d: dict) -> None:
    del d["outputPorts"][0]["version"]


def _no_status(d: dict) -> None:
    del d["status"]


def _team_member_without_username(d: dict) -> None:
    d["team"]["members"] = [{"name": "Ann", "role": "owner"}]


def _unknown_port_key(d: dict) -> None:
    d["outputPorts"][0]["visibility"] = "public"


# Documents the official schema refuses (what is wrong, the field Meshwork names).
REFUSED = {
    "input port without contractId": (_drop_contract_id, "inputPorts.0.contractId"),
    "a Meshwork field at the top level": (_legacy_key, "productKind"),
    "an output port in the older form": (_legacy_output_port, "outputPorts.0"),
    "a custom property without value": (_property_without_value, "customProperties.4.value"),
    "a support channel without url": (_support_without_url, "support.0.url"),
    "an output port without version": (_port_without_version, "outputPorts.0.version"),
    "no status": (_no_status, "status"),
    "a team member without username": (_team_member_without_username, "team.members.0.username"),
    "a key ODPS does not define on a port": (_unknown_port_key, "outputPorts.0.visibility"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_meshwork_refuses_what_the_official_schema_refuses_naming_the_field(project: Path, case: str):
    mutate, field = REFUSED[case]
    data = copy.deepcopy(_orders(project))
    mutate(data)
    schema = odps_official.schema()
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(data)), "the schema accepts it"
    descriptor, problems = read_descriptor(data, project / ORDERS, "sales/orders")
    assert descriptor is None
    assert any(p.field and p.field.startswith(field) and p.product == "sales/orders" for p in problems), problems
    assert all(p.reason.startswith("ODPS v1.0.0: ") for p in problems)


def test_a_descriptor_in_the_older_form_is_refused_with_a_pointer_to_mesh_upgrade(project: Path):
    data = _orders(project)
    _legacy_key(data)
    _, problems = read_descriptor(data, project / ORDERS, "sales/orders")
    assert any(p.field == "productKind" and "`mesh upgrade` rewrites it" in p.reason for p in problems), problems


def edit(project: Path, old: str, new: str) -> None:
    path = project / ORDERS
    assert old in path.read_text(), old
    path.write_text(path.read_text().replace(old, new))


def test_an_unknown_custom_property_is_an_error_naming_its_place(project: Path):
    edit(project, "{property: productKind,", "{property: retension, value: 30d}\n  - {property: productKind,")
    problems = problems_of(project)
    assert any(
        "orders.yaml: field 'customProperties.0.property': product 'sales/orders': unknown custom property "
        "'retension'; Meshwork reads productKind, implementation, sla, sources, retention, retentionColumn here" in p
        for p in problems
    ), problems


def test_a_custom_property_given_twice_is_an_error(project: Path):
    edit(
        project,
        "  - {property: productKind, value: source-aligned}\n",
        "  - {property: productKind, value: aggregate}\n  - {property: productKind, value: source-aligned}\n",
    )
    assert any("customProperties.1.property" in p and "'productKind' is given twice" in p for p in problems_of(project))


def test_a_bad_value_inside_a_custom_property_names_the_property_and_its_field(project: Path):
    edit(project, "{freshness: 26h,", "{freshness: soon,")
    assert any(
        "field 'customProperties[sla].freshness'" in p and "'soon' is not a duration" in p for p in problems_of(project)
    )


def test_a_bad_output_port_custom_property_names_the_port(project: Path):
    edit(project, "{property: visibility, value: public}", "{property: visibility, value: everyone}")
    assert any("field 'outputPorts.0.customProperties[visibility]'" in p for p in problems_of(project))


def test_an_output_port_is_named_after_its_product_and_its_contract_id_is_the_product_id(project: Path):
    edit(project, "contractId: sales.orders\n", "contractId: sales.order_lines\n")
    assert any("outputPorts.0: an output port is named after its product" in p for p in problems_of(project))


def test_an_input_port_repeats_the_name_of_the_port_it_reads(project: Path):
    edit(project, "{name: customer_profiles, version: v1,", "{name: profiles, version: v1,")
    assert any(
        "field 'inputPorts.0'" in p and "name 'profiles' is not the port of contract 'customers.customer_profiles'" in p
        for p in problems_of(project)
    )


def test_an_output_port_whose_contract_major_does_not_exist_names_the_contract_folder(project: Path):
    edit(project, "  - name: orders\n    version: v1\n", "  - name: orders\n    version: v2\n")
    assert any(
        "field 'outputPorts.0.contractId'" in p and "has id 'sales.orders' and a version 2.x.y" in p
        for p in problems_of(project)
    )


def test_the_team_and_its_email_support_channel_are_the_products_owner(project: Path):
    edit(project, "team: {name: sales-data}\n", "team: {name: order-desk}\n")
    edit(project, "'mailto:sales-data@example.com'", "'mailto:orders@example.com'")
    mesh = load_mesh(project)
    owner = mesh.product("sales/orders").owner
    assert (owner.team, owner.email) == ("order-desk", "orders@example.com")
    assert mesh.product("sales/order_lines").owner.team == "sales-data"  # its own team is the domain's


def test_a_descriptor_without_a_team_is_owned_by_its_domains_owner(project: Path):
    path = project / ORDERS
    data = yaml.safe_load(path.read_text())
    del data["team"], data["support"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    owner = load_mesh(project).product("sales/orders").owner
    assert (owner.team, owner.email) == ("sales-data", "sales-data@example.com")


def test_without_the_mirror_the_schema_tests_skip_naming_the_path_and_fail_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    absent = tmp_path / "no-mirror"
    monkeypatch.setattr(odps_official, "MIRROR", absent)
    odps_official._schema_bytes.cache_clear()
    try:
        monkeypatch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match=f"the ODPS mirror is not at {absent}"):
            odps_official.schema()
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match=f"not at {absent}.*CI=true"):
            odps_official.schema()
    finally:
        odps_official._schema_bytes.cache_clear()
