"""Hostile YAML (alias bombs, deep nesting, huge files) fails fast, naming the file and the limit.

A 2 KB contract of nested aliases once drove `mesh check` to 5.9 GB and a MemoryError after 86 s.
The timeout markers are generous bounds that turn a hang into a failure; no assertion is on time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshwork.core import yamlsafe
from meshwork.core.errors import MeshDefinitionError
from meshwork.model.loader import load_mesh

pytestmark = pytest.mark.timeout(30)


def laughs(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs": each level repeats the previous one ``width`` times (9**9 values here)."""
    text = "l0: &l0 [" + ", ".join(["lol"] * width) + "]\n"
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]\n"
    return text


MANY_ALIASES = "one: &one 1\nmany: [" + ", ".join(["*one"] * 150) + "]\n"
DEEP_FLOW = "a: " + "[" * 100_000 + "]" * 100_000  # libyaml's composer overflows the C stack on this
DEEP_BLOCK = "".join("  " * i + f"k{i}:\n" for i in range(80)) + "  " * 80 + "end\n"
RECURSIVE = "a: &a [1, *a]\n"
DEEP_BY_ALIAS = "a: &a " + "[" * 60 + "]" * 60 + "\nb: [[[[[[*a]]]]]]\n"

CASES = {
    "alias bomb": (laughs(), "once its aliases are expanded (a limit against alias bombs)"),
    "many aliases": (MANY_ALIASES, "more than 100 YAML aliases (a limit against alias bombs)"),
    "deep flow nesting": (DEEP_FLOW, "nested more than 64 levels deep"),
    "deep block nesting": (DEEP_BLOCK, "nested more than 64 levels deep"),
    "recursive alias": (RECURSIVE, "the alias *a repeats a node that contains it"),
    "deep through an alias": (DEEP_BY_ALIAS, "nested more than 64 levels deep"),
    "huge": ("a: '" + "x" * (yamlsafe.MAX_BYTES + 1) + "'\n", "larger than 4 MiB"),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_hostile_yaml_is_refused_naming_the_limit(kind: str):
    text, says = CASES[kind]
    with pytest.raises(yamlsafe.YamlLimitError, match="limit|recursive") as exc:
        yamlsafe.loads(text)
    assert says in str(exc.value)


def test_a_refusal_says_where_in_the_file():
    with pytest.raises(yamlsafe.YamlLimitError, match=r"at line 2$"):
        yamlsafe.loads(MANY_ALIASES)


def test_ordinary_yaml_within_the_limits_loads_as_before():
    text = "base: &base {team: sales, tier: 1}\nsales: *base\nlist: [*base, *base]\nmerged: {<<: *base, tier: 2}\n"
    assert yamlsafe.loads(text) == {
        "base": {"team": "sales", "tier": 1},
        "sales": {"team": "sales", "tier": 1},
        "list": [{"team": "sales", "tier": 1}] * 2,
        "merged": {"team": "sales", "tier": 2},
    }
    assert yamlsafe.loads("".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "end\n")


def test_a_syntax_error_is_still_reported_as_one():
    with pytest.raises(yaml.YAMLError) as exc:
        yamlsafe.loads("a: [unclosed\n")
    assert not isinstance(exc.value, yamlsafe.YamlLimitError)


def test_a_duplicate_key_is_refused():
    with pytest.raises(yaml.YAMLError, match="duplicate key 'a'"):
        yamlsafe.loads("a: 1\na: 2\n")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_text("a: '" + "x" * (yamlsafe.MAX_BYTES + 1) + "'\n")
    with pytest.raises(yamlsafe.YamlLimitError, match="larger than 4 MiB"):
        yamlsafe.read(big)


PLACES = {
    "contract": "domains/sales/contracts/orders.odcs.yaml",
    "product descriptor": "domains/sales/products/orders.yaml",
    "domain.yaml": "domains/sales/domain.yaml",
}


@pytest.mark.parametrize("place", list(PLACES))
def test_an_alias_bomb_in_the_mesh_is_a_definition_problem_naming_the_file(project: Path, place: str):
    path = project / PLACES[place]
    path.write_text(path.read_text() + "x-bomb:\n" + "".join("  " + line + "\n" for line in laughs().splitlines()))
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    problems = [str(p) for p in exc.value.problems]
    assert any(p.startswith(f"{path}: ") and "more than 1,000,000 values" in p for p in problems), problems


def test_too_many_aliases_in_a_contract_name_the_file_and_the_limit(project: Path):
    path = project / "domains/sales/contracts/orders.odcs.yaml"
    path.write_text(path.read_text() + "x-many:\n" + "".join("  " + line + "\n" for line in MANY_ALIASES.splitlines()))
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    problems = [str(p) for p in exc.value.problems]
    says = "more than 100 YAML aliases (a limit against alias bombs)"
    assert any(p.startswith(f"{path}: ") and says in p for p in problems), problems


def test_a_deeply_nested_workspace_is_a_problem_of_the_workspace(project: Path):
    path = project / "workspace.yaml"
    path.write_text(path.read_text() + "x-deep: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(MeshDefinitionError) as exc:
        load_mesh(project)
    assert any(
        "workspace.yaml" in str(p) and "nested more than 64 levels deep" in str(p) for p in exc.value.problems
    ), exc.value.problems
