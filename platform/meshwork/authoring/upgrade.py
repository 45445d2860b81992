"""`mesh upgrade`: rewrite an existing mesh's contracts into the forms the standards' own schemas accept.

Contracts written for Meshwork before it validated per ODCS version declared ``apiVersion: v3.0.2``
but used later features. The upgrade, per contract:

- ``apiVersion`` becomes ``v3.1.0`` (the newest released ODCS whose schema ships with Meshwork);
- a property's ``enum: [{value: …}]`` (allowed by no released schema) becomes the ODCS library rule
  ``quality: [{metric: invalidValues, arguments: {validValues: […]}, mustBe: 0}]``;
- a foreign key ``to: <domain>.<product>.<column>`` becomes ODCS v3.1's fully qualified reference
  ``[../../<domain>/contracts/]<product>.odcs.yaml#/schema/<product>/properties/<column>``, and the
  target contract's schema object and property get the ``id`` such a reference names.

Every change is listed; nothing is written with ``dry_run``. The YAML is rewritten by PyYAML: key
order is kept, comments and inline (flow) style are not, which the result says per file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshwork.core import settings
from meshwork.core.names import IDENTIFIER
from meshwork.model.contracts import released

TARGET = released()[-1]  # the ODCS version whose official schema Meshwork validates against


@dataclass
class FileChange:
    path: str
    changes: list[str] = field(default_factory=list)
    comments_dropped: bool = False


@dataclass
class UpgradeResult:
    files: list[FileChange] = field(default_factory=list)
    written: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "files": [
                {"path": f.path, "changes": f.changes, "comments_dropped": f.comments_dropped} for f in self.files
            ],
        }


def _reference(own_domain: str, domain: str, product: str, column: str) -> str:
    folder = "" if domain == own_domain else f"../../{domain}/contracts/"
    return f"{folder}{product}.odcs.yaml#/schema/{product}/properties/{column}"


def _upgrade(data: dict[str, Any], domain: str, change: FileChange, targets: set[tuple[str, str, str]]) -> None:
    if data.get("apiVersion") != TARGET and (data.get("apiVersion") or "").startswith("v3."):
        change.changes.append(f"apiVersion {data.get('apiVersion')} -> {TARGET}")
        data["apiVersion"] = TARGET
    for obj in data.get("schema") or []:
        for prop in (obj or {}).get("properties") or []:
            name = prop.get("name")
            if isinstance(prop.get("enum"), list):
                values = [e.get("value") if isinstance(e, dict) else e for e in prop.pop("enum")]
                rule = {"metric": "invalidValues", "arguments": {"validValues": values}, "mustBe": 0}
                prop.setdefault("quality", []).append(rule)
                change.changes.append(f"{name}: enum -> quality invalidValues/validValues {values}")
            for rel in prop.get("relationships") or []:
                parts = rel.get("to").split(".") if isinstance(rel.get("to"), str) else []
                if len(parts) == 3 and all(IDENTIFIER.match(p) for p in parts):
                    rel["to"] = _reference(domain, *parts)
                    targets.add((parts[0], parts[1], parts[2]))
                    change.changes.append(f"{name}: foreign key {'.'.join(parts)} -> {rel['to']}")


def _add_ids(data: dict[str, Any], product: str, columns: set[str], change: FileChange) -> None:
    for obj in data.get("schema") or []:
        if obj.get("name") != product:
            continue
        if obj.get("id") != product:
            obj["id"] = product
            change.changes.append(f"schema object {product}: id {product} (named by references)")
        for prop in obj.get("properties") or []:
            if prop.get("name") in columns and prop.get("id") != prop["name"]:
                prop["id"] = prop["name"]
                change.changes.append(f"{prop['name']}: id {prop['name']} (named by references)")


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key (``properties:\n  - name: …``), as Meshwork's contracts do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def upgrade(project: Path | None = None, dry_run: bool = False) -> UpgradeResult:
    """Upgrade every contract under ``domains/*/contracts``; write them unless ``dry_run``."""
    root = project or settings.project_dir()
    files = sorted(root.glob("domains/*/contracts/*.odcs.yaml"))
    loaded: dict[Path, tuple[str, dict[str, Any]]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        if isinstance(data, dict):
            loaded[path] = (text, data)
    changes: dict[Path, FileChange] = {p: FileChange(str(p.relative_to(root))) for p in loaded}
    targets: set[tuple[str, str, str]] = set()
    for path, (_, data) in loaded.items():
        _upgrade(data, path.parent.parent.name, changes[path], targets)
    for domain, product, _column in targets:
        path = root / "domains" / domain / "contracts" / f"{product}.odcs.yaml"
        if path in loaded:
            columns = {c for d, p, c in targets if (d, p) == (domain, product)}
            _add_ids(loaded[path][1], product, columns, changes[path])
    result = UpgradeResult()
    for path, (text, data) in loaded.items():
        change = changes[path]
        if not change.changes:
            continue
        change.comments_dropped = any(line.lstrip().startswith("#") or " #" in line for line in text.splitlines())
        result.files.append(change)
        if not dry_run:
            tmp = path.with_suffix(".yaml.upgrade")
            tmp.write_text(_dump(data), encoding="utf-8")
            tmp.replace(path)
    result.written = bool(result.files) and not dry_run
    return result
