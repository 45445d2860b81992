"""Reading a product descriptor file: first as an ODPS v1.0.0 document, then as Meshwork's product.

1. The document must be valid ODPS v1.0.0 (:mod:`meshwork.model.odps`); a file in Meshwork's older,
   pre-ODPS form is told that ``mesh upgrade`` rewrites it.
2. Meshwork's custom properties are lifted out of ``customProperties`` (product and output ports) and
   the whole is validated as a :class:`~meshwork.model.descriptors.ProductDescriptor`. Each problem
   names the place in the file: ``customProperties[sla].freshness``,
   ``outputPorts.0.customProperties[grants].1.purpose``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from meshwork.core.errors import Problem
from meshwork.model import odps
from meshwork.model.descriptors import ProductDescriptor, pydantic_problems, read_yaml

# The custom properties Meshwork reads, where it reads them (any other is an error: a typo must not
# silently drop a retention period or a grant).
PRODUCT_PROPERTIES = ("productKind", "implementation", "sla", "sources", "retention", "retentionColumn")
OUTPUT_PORT_PROPERTIES = ("visibility", "grants", "deprecatedAfter", "removedAfter", "columns")
# The keys of Meshwork's older descriptors that ODPS does not have (what `mesh upgrade` moves).
LEGACY_KEYS = frozenset({*PRODUCT_PROPERTIES, "owner"})
_PORT_KEYS = ("name", "version", "contractId", "description", "type")
UPGRADE_HINT = " (Meshwork's older, pre-ODPS descriptor form: `mesh upgrade` rewrites it)"


def is_legacy(data: dict[str, Any]) -> bool:
    """A descriptor in the form Meshwork wrote before its descriptors were ODPS."""
    ports = [p for key in ("inputPorts", "outputPorts") for p in data.get(key) or [] if isinstance(p, dict)]
    return bool(LEGACY_KEYS & set(data)) or any("product" in p or "contract" in p for p in ports)


def _lift(
    entry: dict[str, Any], known: tuple[str, ...], where: str, problems: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the custom properties by name, internal name -> place in the file); unknown ones are problems."""
    lifted: dict[str, Any] = {}
    places = {name: f"{where}customProperties[{name}]" for name in known}
    for i, item in enumerate(entry.get("customProperties") or []):
        name = item["property"]
        place = f"{where}customProperties.{i}.property"
        if name not in known:
            problems.append(
                f"{place}\0unknown custom property '{name}'; Meshwork reads {', '.join(known) or 'none'} here"
            )
        elif name in lifted:
            problems.append(f"{place}\0custom property '{name}' is given twice")
        else:
            lifted[name] = item["value"]
    return lifted, places


def meshwork_view(data: dict[str, Any]) -> tuple[dict[str, Any], dict[tuple, str], list[str]]:
    """The descriptor as :class:`ProductDescriptor` reads it, a map from its field paths back to the
    file's, and the problems of the custom properties (``field\\0reason``)."""
    problems: list[str] = []
    view: dict[str, Any] = {
        k: data[k] for k in ("apiVersion", "kind", "id", "name", "version", "domain", "status") if k in data
    }
    places: dict[tuple, str] = {}
    if isinstance(data.get("description"), dict):
        view["description"] = {k: v for k, v in data["description"].items() if k in ("purpose", "usage", "limitations")}
    for key in ("team", "support", "tags"):
        if key in data:
            view[key] = data[key]
    lifted, where = _lift(data, PRODUCT_PROPERTIES, "", problems)
    view.update(lifted)
    places.update({(k,): v for k, v in where.items()})
    view["inputPorts"] = []
    for i, port in enumerate(data.get("inputPorts") or []):
        _lift(port, (), f"inputPorts.{i}.", problems)
        view["inputPorts"].append({k: port[k] for k in ("name", "version", "contractId") if k in port})
    view["outputPorts"] = []
    for i, port in enumerate(data.get("outputPorts") or []):
        lifted, where = _lift(port, OUTPUT_PORT_PROPERTIES, f"outputPorts.{i}.", problems)
        view["outputPorts"].append({**{k: port[k] for k in _PORT_KEYS if k in port}, **lifted})
        places.update({("outputPorts", i, k): v for k, v in where.items()})
    return view, places, problems


def _place(loc: tuple, places: dict[tuple, str]) -> str | None:
    for n in range(len(loc), 0, -1):
        if (head := places.get(tuple(loc[:n]))) is not None:
            return ".".join([head, *(str(p) for p in loc[n:])])
    return ".".join(str(p) for p in loc) or None


def read_descriptor(
    data: dict[str, Any], file: Path, product: str | None
) -> tuple[ProductDescriptor | None, list[Problem]]:
    """Validate an already-read descriptor (ODPS, then Meshwork)."""
    try:
        odps.DataProduct.model_validate(data)
    except ValidationError as exc:
        hint = UPGRADE_HINT if is_legacy(data) else ""
        return None, [
            Problem(f"ODPS {odps.VERSION}: {p.reason}{hint}", file=p.file, field=p.field, product=p.product)
            for p in pydantic_problems(exc, file, product)
        ]
    view, places, lifted = meshwork_view(data)
    problems = [
        Problem(reason, file=file, field=field, product=product) for field, reason in (p.split("\0", 1) for p in lifted)
    ]
    try:
        descriptor = ProductDescriptor.model_validate(view)
    except ValidationError as exc:
        problems += [
            Problem(err["msg"], file=file, field=_place(tuple(err["loc"]), places), product=product)
            for err in exc.errors()
        ]
        return None, problems
    return (None, problems) if problems else (descriptor, [])


def load_product(path: Path, product: str | None = None) -> tuple[ProductDescriptor | None, list[Problem]]:
    """Read and validate the product descriptor at ``path``; never raises on bad input."""
    data, problems = read_yaml(path)
    if data is None:
        return None, problems
    return read_descriptor(data, path, product)


def contract_files(folder: Path) -> tuple[dict[tuple[str, int], list[Path]], list[Problem]]:
    """The ODCS contracts of a domain's ``contracts/`` folder by (``id``, major of ``version``), and the
    files that cannot be read as such (an output port names its contract by ``contractId``)."""
    found: dict[tuple[str, int], list[Path]] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.odcs.yaml")):
        data, errs = read_yaml(path)
        version = str((data or {}).get("version") or "")
        if data is None or not isinstance(data.get("id"), str) or not version.split(".")[0].isdigit():
            problems += errs or [Problem("a contract needs an 'id' and a semantic 'version'", file=path)]
            continue
        found.setdefault((data["id"], int(version.split(".")[0])), []).append(path)
    return found, problems
