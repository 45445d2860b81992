"""A name, version or id with a final newline is refused everywhere (Python's `$` matches before one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.core.errors import MeshDefinitionError
from meshwork.core.names import SQL_TYPE, check_identifier, parse_major, quote
from meshwork.model.loader import load_mesh
from meshwork.storage.snapshots import check_snapshot_id


@pytest.mark.parametrize("check", [check_identifier, quote, parse_major, check_snapshot_id])
@pytest.mark.parametrize("value", ["sales\n", "v1\n", "20250101T000000Z\n"])
def test_a_final_newline_is_refused(check, value: str):
    with pytest.raises(ValueError, match="is not a"):
        check(value)


def test_the_rules_still_accept_what_they_did():
    assert check_identifier("sales_2") == "sales_2"
    assert parse_major("v12") == 12
    assert check_snapshot_id("20250101T000000Z-ab12.c") == "20250101T000000Z-ab12.c"
    assert SQL_TYPE.match("DECIMAL(12, 2)") and not SQL_TYPE.match("BIGINT\n")


def problems_of(project: Path) -> list[str]:
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    return [str(p) for p in exc.value.problems]


# Where a newline is slipped in: (file, text, replacement, what the problem names).
PLACES = {
    "domain name": ("domains/sales/domain.yaml", "name: sales\n", 'name: "sales\\n"\n', "field 'name'"),
    "product name": ("domains/sales/products/orders.yaml", "name: orders\n", 'name: "orders\\n"\n', "field 'name'"),
    "column name": (
        "domains/sales/contracts/orders.odcs.yaml",
        " name: order_id,",
        ' name: "order_id\\n",',
        "'order_id\\n' is not a valid column name",
    ),
    "contract version": (
        "domains/sales/contracts/orders.odcs.yaml",
        "version: 1.0.0\n",
        'version: "1.0.0\\n"\n',
        "is not a semantic version",
    ),
    "freshness": (
        "domains/sales/products/orders.yaml",
        "{freshness: 26h,",
        '{freshness: "26h\\n",',
        "customProperties[sla].freshness",
    ),
}


@pytest.mark.parametrize("place", list(PLACES))
def test_a_newline_in_a_name_is_a_definition_problem_of_its_file(project: Path, place: str):
    relative, old, new, says = PLACES[place]
    path = project / relative
    text = path.read_text()
    assert old in text, f"the example changed: {old!r} is no longer in {relative}"
    path.write_text(text.replace(old, new, 1))
    problems = problems_of(project)
    assert any(str(path) in p and says in p for p in problems), problems
