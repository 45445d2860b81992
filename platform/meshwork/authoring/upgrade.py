"""`mesh upgrade`: rewrite an existing mesh's contracts and product descriptors into the forms the
standards' own schemas accept (ODCS for contracts, ODPS v1.0.0 for descriptors).

Contracts written for Meshwork before it validated per ODCS version declared ``apiVersion: v3.0.2``
but used later features. The upgrade, per contract:

- ``apiVersion`` becomes ``v3.1.0`` (the newest released ODCS whose schema ships with Meshwork);
- a property's ``enum: [{value: …}]`` (allowed by no released schema) becomes the ODCS library rule
  ``quality: [{metric: invalidValues, arguments: {validValues: […]}, mustBe: 0}]``;
- a foreign key ``to: <domain>.<product>.<column>`` becomes ODCS v3.1's fully qualified reference
  ``[../../<domain>/contracts/]<product>.odcs.yaml#/schema/<product>/properties/<column>``, and the
  target contract's schema object and property get the ``id`` such a reference names.

Each product descriptor becomes an ODPS v1.0.0 document (:mod:`meshwork.authoring.odps_upgrade`).

Every change is listed; nothing is written with ``dry_run``. Files are written all or none: every new
file is staged beside its original first, then each replaces its original; a failure part way puts
back the ones already replaced. A descriptor that cannot be converted (its contract unreadable) is
reported and nothing at all is written. The YAML is rewritten by PyYAML: key order is kept, comments
and inline (flow) style are not, which the result says per file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshwork.authoring import odps_upgrade
from meshwork.core import settings
from meshwork.core.names import IDENTIFIER
from meshwork.model.contracts import released
from meshwork.model.product_files import is_legacy

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
    errors: list[str] = field(default_factory=list)  # files that could not be converted: nothing written

    def to_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "errors": self.errors,
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


def _comments(text: str) -> bool:
    return any(line.lstrip().startswith("#") or " #" in line for line in text.splitlines())


def _contracts(root: Path, result: UpgradeResult) -> dict[Path, str]:
    """The new text of every contract the upgrade changes."""
    loaded: dict[Path, tuple[str, dict[str, Any]]] = {}
    for path in sorted(root.glob("domains/*/contracts/*.odcs.yaml")):
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
    new: dict[Path, str] = {}
    for path, (text, data) in loaded.items():
        change = changes[path]
        if change.changes:
            change.comments_dropped = _comments(text)
            result.files.append(change)
            new[path] = _dump(data)
    return new


def _descriptors(root: Path, result: UpgradeResult) -> dict[Path, str]:
    """The new text of every product descriptor not yet in the ODPS form."""
    new: dict[Path, str] = {}
    for path in sorted(root.glob("domains/*/products/*.yaml")):
        text = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue  # not YAML: `mesh check` says so; nothing to upgrade
        if not isinstance(data, dict) or (not is_legacy(data) and {"version", "team", "status"} <= set(data)):
            continue
        change = FileChange(str(path.relative_to(root)))
        owner = odps_upgrade.domain_owner(path.parent.parent / "domain.yaml")
        try:
            converted = odps_upgrade.to_odps(data, path, owner, change.changes)
        except ValueError as exc:
            result.errors.append(f"{change.path}: {exc}")
            continue
        if change.changes:
            change.comments_dropped = _comments(text)
            result.files.append(change)
            new[path] = odps_upgrade.dump(converted)
    return new


def _write_all(new: dict[Path, str]) -> None:
    """Write every file or none: stage each beside its original, then swap them in, undoing on failure."""
    staged: dict[Path, Path] = {}
    try:
        for path, text in new.items():
            staged[path] = path.with_name(path.name + ".upgrade")
            staged[path].write_text(text, encoding="utf-8")
    except OSError:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    originals = {path: path.read_bytes() for path in new}
    done: list[Path] = []
    try:
        for path, tmp in staged.items():
            tmp.replace(path)
            done.append(path)
    except OSError:
        for path in done:
            path.write_bytes(originals[path])
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise


def upgrade(project: Path | None = None, dry_run: bool = False) -> UpgradeResult:
    """Upgrade every contract and product descriptor under ``domains/``; write them unless ``dry_run``."""
    root = project or settings.project_dir()
    result = UpgradeResult()
    new = {**_contracts(root, result), **_descriptors(root, result)}
    if not dry_run and not result.errors and new:
        _write_all(new)
        result.written = True
    return result
