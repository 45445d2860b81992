"""Entries added to hand-written YAML as text keep every comment and mean exactly one more entry."""

from __future__ import annotations

import yaml

from meshwork.core.yamltext import insert

WORKSPACE = """\
# One code location per domain.
load_from:
  - python_module:
      module_name: domains.sales.definitions
      location_name: sales
  # The platform team's location.
  - python_module:
      module_name: meshwork.locations.platform
      location_name: platform
"""

ENTRY = """\
- python_module:
    module_name: domains.logistics.definitions
    location_name: logistics
"""


def test_a_workspace_entry_goes_after_the_last_domain_and_keeps_the_comments():
    text = insert(WORKSPACE, ["load_from"], ENTRY, after_item=lambda item: "domains." in item)
    assert text is not None
    assert "# One code location per domain." in text and "  # The platform team's location.\n" in text
    modules = [e["python_module"]["module_name"] for e in yaml.safe_load(text)["load_from"]]
    assert modules == ["domains.sales.definitions", "domains.logistics.definitions", "meshwork.locations.platform"]
    # The platform's comment still introduces the platform's entry.
    assert text.index("logistics") < text.index("# The platform team's location.") < text.index("meshwork.")


def test_an_indentless_list_gets_an_entry_at_its_own_indentation():
    text = insert("load_from:\n- python_module: domains.sales.definitions\n", ["load_from"], ENTRY)
    assert yaml.safe_load(text)["load_from"][1]["python_module"]["location_name"] == "logistics"


def test_a_nested_mapping_gets_a_key_at_the_end_of_its_block():
    project = "models:\n  meshwork:\n    +materialized: table\n    sales:\n      +group: sales\n# end\nseeds: {}\n"
    text = insert(project, ["models", "meshwork"], "logistics:\n  +group: logistics\n")
    assert yaml.safe_load(text)["models"]["meshwork"]["logistics"] == {"+group": "logistics"}
    assert text.endswith("# end\nseeds: {}\n")


def test_a_key_of_the_first_list_item_can_be_extended():
    ports = "sources:\n  - name: port_sales\n    tables:\n      - name: orders_v1\n"
    text = insert(ports, ["sources", "tables"], "- name: order_lines_v1\n")
    assert [t["name"] for t in yaml.safe_load(text)["sources"][0]["tables"]] == ["orders_v1", "order_lines_v1"]


def test_flow_style_or_a_missing_block_is_left_to_the_user():
    assert insert("load_from: []\n", ["load_from"], ENTRY) is None
    assert insert("other: 1\n", ["load_from"], ENTRY) is None
