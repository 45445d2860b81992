"""Renaming an onboarded project's resources everywhere they are named.

dbt names are global in one project: a model, seed, source or docs block the mesh already has is
renamed ``<domain>_<name>``, and every place the project names it must follow, or it silently points at
the other domain's resource: ``ref()``/``source()``/``doc()`` in SQL and in any YAML string (tests'
``to: ref(...)``, ``semantic_models[].model``, exposures' ``depends_on``, unit tests' ``given[].input``,
descriptions), the ``name`` of ``models:``/``seeds:``/``sources:`` entries, ``unit_tests[].model``, and
``{% docs name %}`` blocks. :func:`leaks` then proves nothing onboarded still points outside its domain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshwork.authoring import registration

_REF = re.compile(r"""\bref\(\s*(?:(['"])[^'"]+\1\s*,\s*)?(['"])(?P<name>[^'"]+)\2\s*\)""")
_SOURCE = re.compile(r"""\bsource\(\s*(['"])(?P<source>[^'"]+)\1\s*,\s*(['"])(?P<table>[^'"]+)\3\s*\)""")
_DOC = re.compile(r"""\bdoc\(\s*(['"])(?P<name>[^'"]+)\1\s*\)""")
_DOCS_BLOCK = re.compile(r"""(\{%-?\s*docs\s+)(?P<name>[A-Za-z_][A-Za-z0-9_]*)(\s*-?%\})""")


@dataclass
class Renames:
    nodes: dict[str, str] = field(default_factory=dict)  # models and seeds
    sources: dict[str, str] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)

    def text(self, text: str) -> str:
        """``ref``, ``source`` and ``doc`` calls in SQL, Jinja or Markdown, plus ``{% docs %}`` blocks."""

        def ref(m: re.Match) -> str:
            name = m["name"]
            if name in self.nodes and (self.nodes[name] != name or m.group(1)):
                return f"ref('{self.nodes[name]}')"
            return m.group(0)

        def source(m: re.Match) -> str:
            new = self.sources.get(m["source"], m["source"])
            return f"source('{new}', '{m['table']}')" if new != m["source"] else m.group(0)

        def doc(m: re.Match) -> str:
            new = self.docs.get(m["name"], m["name"])
            return f'doc("{new}")' if new != m["name"] else m.group(0)

        def block(m: re.Match) -> str:
            return m.group(1) + self.docs.get(m["name"], m["name"]) + m.group(3)

        return _DOCS_BLOCK.sub(block, _DOC.sub(doc, _SOURCE.sub(source, _REF.sub(ref, text))))

    def yaml(self, data: Any) -> Any:
        """Every string of a parsed YAML document, plus the names dbt reads as resource names."""
        if isinstance(data, dict):
            out = {k: self.yaml(v) for k, v in data.items()}
            for section, renames in (("models", self.nodes), ("seeds", self.nodes), ("sources", self.sources)):
                for entry in out.get(section) or []:
                    if isinstance(entry, dict) and entry.get("name") in renames:
                        entry["name"] = renames[entry["name"]]
            for test in out.get("unit_tests") or []:
                if isinstance(test, dict) and test.get("model") in self.nodes:
                    test["model"] = self.nodes[test["model"]]
            return out
        if isinstance(data, list):
            return [self.yaml(v) for v in data]
        if isinstance(data, str):
            return self.text(data)
        return data


def docs_blocks(text: str) -> list[str]:
    return [m["name"] for m in _DOCS_BLOCK.finditer(text)]


def leaks(manifest: dict, domain: str, folders: tuple[str, ...]) -> list[str]:
    """Onboarded resources (files under ``folders``) that depend on a model or seed of another domain.

    Such a test, unit test, semantic model, metric or exposure would attach to the other domain's model
    and run in (and break) that domain's build while `mesh check` stays green."""
    resources = {
        **manifest["nodes"],
        **(manifest.get("unit_tests") or {}),
        **(manifest.get("semantic_models") or {}),
        **(manifest.get("metrics") or {}),
        **(manifest.get("exposures") or {}),
        **(manifest.get("saved_queries") or {}),
    }

    def ours(node: dict) -> bool:
        return str(node.get("original_file_path", "")).startswith(folders)

    problems = []
    for node in resources.values():
        if not ours(node):
            continue
        for parent in (node.get("depends_on") or {}).get("nodes") or []:
            other = manifest["nodes"].get(parent)
            if other and other["resource_type"] in ("model", "seed") and not ours(other):
                problems.append(
                    f"onboarded {node['resource_type']} '{node['name']}' ({node['original_file_path']}) refers "
                    f"to '{other['name']}' of domain '{other.get('group') or '?'}' "
                    f"({other['original_file_path']}); it would run in that domain's build. Onboarding "
                    f"renames every reference it knows; rename this one in the project, or report it"
                )
    return problems


def still_whole(domains: list[str], domain: str) -> Callable[[Path], list[str]]:
    """The change's check: every domain still loads and parses (as `mesh check` does), and nothing
    onboarded depends on another domain's model (it would run in, and break, that domain's build)."""
    whole = registration.check_project(domains)
    folders = tuple(f"{kind}/{domain}/" for kind in ("models", "seeds", "macros", "tests"))

    def check(root: Path) -> list[str]:
        problems = whole(root)
        if problems:
            return problems
        parsed = root / "dbt_project" / "target" / "manifest.json"  # the parse `whole` just made, reused
        manifest = json.loads(parsed.read_text(encoding="utf-8")) if parsed.is_file() else None
        manifest = manifest or registration.dbt_parse(root / "dbt_project")
        return leaks(manifest, domain, folders)

    return check
