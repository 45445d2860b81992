"""The parsed-YAML cache under $MESH_HOME/cache/yaml: keyed by content, never trusted blindly.

A changed file is parsed anew, a damaged or planted entry is ignored and rewritten, a failed parse is
never stored, and validation (pydantic, the ODCS schema) runs on every load, so no error is hidden.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest
import yaml

from meshwork.core import parsed_cache, settings, yamlsafe
from meshwork.model.contracts import load_contract
from tests.unit.model.test_odcs_versions import CONTRACT


def entries() -> list[Path]:
    return sorted(p for p in (settings.cache_dir() / "yaml").rglob("*") if p.is_file())


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts actually parsed (not served from the cache)."""
    seen: list[str] = []
    real = yamlsafe.loads

    def counting(text: str):
        seen.append(text)
        return real(text)

    monkeypatch.setattr(yamlsafe, "loads", counting)
    return seen


def test_a_document_read_again_comes_from_the_cache(tmp_path: Path, parses: list[str]):
    doc = tmp_path / "doc.yaml"
    doc.write_text("name: orders\nwhen: 2024-05-01\ntags: [a, b]\n")
    first = yamlsafe.read(doc)
    second = yamlsafe.read(doc)
    assert first == second == {"name": "orders", "when": first["when"], "tags": ["a", "b"]}
    assert str(first["when"]) == "2024-05-01"  # dates come back as dates, through the data-only unpickler
    assert len(parses) == 1 and len(entries()) == 1
    second["tags"].append("c")  # each read is a fresh object: a caller's change does not leak
    assert yamlsafe.read(doc)["tags"] == ["a", "b"]


def test_a_changed_file_is_parsed_again(tmp_path: Path, parses: list[str]):
    doc = tmp_path / "doc.yaml"
    doc.write_text("version: 1.0.0\n")
    assert yamlsafe.read(doc) == {"version": "1.0.0"}
    doc.write_text("version: 2.0.0\n")
    assert yamlsafe.read(doc) == {"version": "2.0.0"}
    assert len(parses) == 2 and len(entries()) == 2


def test_another_parser_does_not_reuse_entries(tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch):
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: 1\n")
    yamlsafe.read(doc)
    monkeypatch.setattr(yamlsafe, "_PARSER", yamlsafe._PARSER + "-changed")
    assert yamlsafe.read(doc) == {"a": 1}
    assert len(parses) == 2


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda blob: b"", id="empty"),
        pytest.param(lambda blob: blob[: len(blob) // 2], id="truncated"),
        pytest.param(lambda blob: b"not a cache entry at all", id="garbage"),
        pytest.param(lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]), id="payload bit flipped"),
        pytest.param(
            lambda blob: parsed_cache.FORMAT + hashlib.sha256(p := pickle.dumps({"a": 2})).digest() + p[:-1] + b"!",
            id="digest of other bytes",
        ),
    ],
)
def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path: Path, parses: list[str], damage):
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: 1\n")
    yamlsafe.read(doc)
    [entry] = entries()
    good = entry.read_bytes()
    entry.write_bytes(damage(good))
    assert yamlsafe.read(doc) == {"a": 1}
    assert len(parses) == 2
    assert entry.read_bytes() == good  # rewritten
    assert yamlsafe.read(doc) == {"a": 1} and len(parses) == 2


class Planted:
    def __reduce__(self):
        return (Path.touch, (Path(settings.mesh_home()) / "pwned",))


def test_a_planted_entry_that_would_run_code_is_refused(tmp_path: Path, parses: list[str]):
    """An entry is read by an unpickler that builds only plain data: a crafted entry with a valid
    digest still cannot call anything."""
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: 1\n")
    yamlsafe.read(doc)
    [entry] = entries()
    payload = pickle.dumps({"a": Planted()})
    entry.write_bytes(parsed_cache.FORMAT + hashlib.sha256(payload).digest() + payload)
    assert yamlsafe.read(doc) == {"a": 1}
    assert not (settings.mesh_home() / "pwned").exists()
    assert len(parses) == 2


def test_a_document_that_fails_to_parse_is_never_stored(tmp_path: Path, parses: list[str]):
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: 1\na: 2\n")  # a duplicate key: refused by the loader
    for _ in range(2):
        with pytest.raises(yaml.YAMLError, match="duplicate key 'a'"):
            yamlsafe.read(doc)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("one: &one 1\nmany: [" + ", ".join(["*one"] * 150) + "]\n")
    for _ in range(2):
        with pytest.raises(yamlsafe.YamlLimitError, match="more than 100 YAML aliases"):
            yamlsafe.read(bomb)
    assert entries() == []
    assert len(parses) == 4


def test_an_unwritable_cache_only_loses_the_cache(tmp_path: Path, parses: list[str]):
    settings.mesh_home().mkdir(parents=True, exist_ok=True)
    settings.cache_dir().write_text("a file where the cache folder would be")  # mkdir fails, even as root
    doc = tmp_path / "doc.yaml"
    doc.write_text("a: 1\n")
    assert yamlsafe.read(doc) == yamlsafe.read(doc) == {"a": 1}
    assert len(parses) == 2


def test_a_cached_parse_never_hides_a_validation_error(tmp_path: Path):
    """The cache holds parsed YAML only: the ODCS schema and Meshwork's checks run on every load, so a
    contract that parses but is invalid is refused on the second load exactly as on the first."""
    path = tmp_path / "events.odcs.yaml"
    path.write_text(CONTRACT.format(version="v3.1.0", at_type="datetime"))
    first = load_contract(path, "sales/events")
    second = load_contract(path, "sales/events")
    assert first[0] is None and second[0] is None
    assert [(p.field, p.reason) for p in first[1]] == [(p.field, p.reason) for p in second[1]]
    assert first[1] and "ODCS v3.1.0 schema" in first[1][0].reason
    assert len(entries()) == 1  # the parse was cached, the refusal was not

    # Fixed, then broken again: each state is judged on its own bytes.
    path.write_text(CONTRACT.format(version="v3.1.0", at_type="timestamp"))
    contract, problems = load_contract(path, "sales/events")
    assert contract is not None and problems == []
    path.write_text(CONTRACT.format(version="v3.1.0", at_type="datetime"))
    assert load_contract(path, "sales/events")[0] is None
