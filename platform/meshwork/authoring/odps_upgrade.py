"""Moving a product descriptor from Meshwork's older form to an ODPS v1.0.0 document (``mesh upgrade``).

Per descriptor, each step only where the older form is found (so a second run has nothing to do):

- ``productKind``, ``implementation``, ``sources``, ``sla``, ``retention``, ``retentionColumn`` move
  into the product's ``customProperties``;
- an input port ``{product: d/p, version: vN}`` becomes ``{name: p, version: vN, contractId: d.p}``;
- an output port ``{contract: <path>, visibility, grants, …}`` becomes ``{name, version, contractId}``
  (``version``: ``v`` and the major of the contract it pointed at; ``contractId``: that contract's
  ``id``), its ``visibility``, ``grants``, ``deprecatedAfter``, ``removedAfter``, ``columns`` moving
  into the port's ``customProperties``;
- ``owner`` (or, without one, the domain's owner) becomes ``team: {name}`` and, when it has an
  address, a ``support`` e-mail channel; a missing product ``version`` becomes the version of the
  contract of its newest port (``1.0.0`` when none can be read); a missing ``status`` (ODPS requires
  one) becomes ``active``, the older form's default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from meshwork.model import odps
from meshwork.model.descriptors import Owner, owner_parts
from meshwork.model.product_files import OUTPUT_PORT_PROPERTIES, PRODUCT_PROPERTIES

ORDER = (
    "apiVersion", "kind", "id", "name", "version", "domain", "status", "tenant", "description", "team", "support",
    "tags", "inputPorts", "outputPorts", "managementPorts", "customProperties",
)  # fmt: skip


def domain_owner(domain_yaml: Path) -> Owner | None:
    """The ``owner`` of a ``domain.yaml`` (``None`` when it cannot be read)."""
    try:
        raw = (yaml.safe_load(domain_yaml.read_text(encoding="utf-8")) or {}).get("owner")
        if isinstance(raw, str):
            team, email = owner_parts(raw)
            return Owner(team=team, email=email)
        return Owner.model_validate(raw)
    except (OSError, yaml.YAMLError, AttributeError, ValueError):
        return None


def _support(owner: Owner) -> list[dict[str, Any]]:
    return [{"channel": owner.team, "url": f"mailto:{owner.email}", "tool": "email"}] if owner.email else []


def _contract(descriptor: Path, relative: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load((descriptor.parent / relative).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _major(version: Any) -> str | None:
    head = str(version or "").split(".")[0]
    return f"v{head}" if head.isdigit() else None


def to_odps(data: dict[str, Any], path: Path, owner: Owner | None, changes: list[str]) -> dict[str, Any]:
    """``data`` in the ODPS form (a new dict in ``ORDER``); each change made is appended to ``changes``."""
    out = dict(data)
    name = out.get("name")
    custom = [p for p in out.get("customProperties") or [] if isinstance(p, dict)]
    moved = [key for key in PRODUCT_PROPERTIES if key in out]
    custom += odps.custom(**{key: out.pop(key) for key in moved})
    if moved:
        out["customProperties"] = custom
        changes.append(f"{', '.join(moved)} -> customProperties")
    versions: list[str] = []
    ports = []
    for i, port in enumerate(out.get("outputPorts") or []):
        if not isinstance(port, dict) or "contract" not in port:
            ports.append(port)
            continue
        contract = _contract(path, str(port["contract"]))
        version = _major(contract.get("version"))
        if not version or not isinstance(contract.get("id"), str):
            raise ValueError(f"outputPorts.{i}: cannot read the id and version of {port['contract']}")
        versions.append(str(contract["version"]))
        extras = odps.custom(**{k: port.get(k) for k in OUTPUT_PORT_PROPERTIES})
        rest = {k: v for k, v in port.items() if k not in {"contract", *OUTPUT_PORT_PROPERTIES}}
        new = {"name": name, "version": version, "contractId": contract["id"], **rest}
        ports.append({**new, "customProperties": extras} if extras else new)
        changes.append(
            f"outputPorts.{i}: contract {port['contract']} -> "
            f"name {name}, version {version}, contractId {contract['id']}"
            + (f"; {', '.join(p['property'] for p in extras)} -> customProperties" if extras else "")
        )
    if "outputPorts" in out:
        out["outputPorts"] = ports
    inputs = []
    for i, port in enumerate(out.get("inputPorts") or []):
        if isinstance(port, dict) and isinstance(port.get("product"), str) and port["product"].count("/") == 1:
            producer_domain, producer = port["product"].split("/")
            rest = {k: v for k, v in port.items() if k not in {"product", "version"}}
            port = {
                "name": producer,
                "version": port.get("version", "v1"),
                "contractId": f"{producer_domain}.{producer}",
            }
            port.update(rest)
            changes.append(f"inputPorts.{i}: {producer_domain}/{producer} -> contractId {port['contractId']}")
        inputs.append(port)
    if "inputPorts" in out:
        out["inputPorts"] = inputs
    own = out.pop("owner", None)
    if own is not None:
        team, email = owner_parts(own) if isinstance(own, str) else (own.get("team"), own.get("email"))
        owner = Owner(team=str(team).removeprefix("team:"), email=email)
        changes.append(f"owner -> team {owner.team}" + (f", support mailto:{owner.email}" if owner.email else ""))
    elif owner is not None and "team" not in out:
        changes.append(f"team {owner.team} (the domain's owner)")
    if owner is not None and "team" not in out:
        out["team"] = {"name": owner.team}
        if "support" not in out and (support := _support(owner)):
            out["support"] = support
            changes.append(f"support mailto:{owner.email}")
    if "status" not in out:  # Meshwork's older default, which ODPS requires to be written
        out["status"] = "active"
        changes.append("status active (the older form's default; ODPS requires it)")
    if "version" not in out:
        out["version"] = max(
            versions, key=lambda v: [int(x) if x.isdigit() else 0 for x in v.split(".")], default="1.0.0"
        )
        changes.append(f"version {out['version']} (the product's own release)")
    return {**{k: out[k] for k in ORDER if k in out}, **{k: v for k, v in out.items() if k not in ORDER}}


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key; short scalar-only maps and lists inline."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _leafy(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    short = len(yaml.safe_dump(value, default_flow_style=True, width=1000)) <= 100
    if isinstance(value, dict) and any(isinstance(v, str) and len(v) > 40 for v in items):
        return False  # prose (a description, a grant's purpose) reads better on lines of its own
    return short and all(not isinstance(v, dict | list) or (isinstance(v, list) and _leafy(v)) for v in items)


def _represent(dumper: yaml.SafeDumper, value: Any) -> yaml.Node:
    if isinstance(value, dict):
        node: yaml.Node = dumper.represent_mapping("tag:yaml.org,2002:map", value.items())
    else:
        node = dumper.represent_sequence("tag:yaml.org,2002:seq", value)
    node.flow_style = _leafy(value)  # type: ignore[attr-defined]
    return node


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    """Cron expressions and other strings with YAML indicators are double-quoted, as a person writes them."""
    style = '"' if any(c in value for c in "*&!|>%@`#") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(dict, _represent)
_Dumper.add_representer(str, _string)
_Dumper.add_representer(list, _represent)


def dump(data: dict[str, Any]) -> str:
    """A descriptor as YAML, in the style of the example mesh's."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
