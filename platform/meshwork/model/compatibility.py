"""Classify the changes between two versions of a contract as compatible or breaking for consumers.

A change is breaking when a consumer written against the old contract can break or silently read
something it was promised not to: a column removed or renamed, a type changed other than widened,
a guarantee loosened (not-null or uniqueness dropped, a range or length widened, new allowed
values, a pattern changed or dropped, a foreign key dropped) or the primary key changed. Adding a
column or tightening a guarantee is compatible.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from meshwork.model.contracts import Contract
from meshwork.model.rules import Rule, compile_rules

# Widening conversions a consumer can always read (old type -> types it may become).
_WIDENS = {
    "TINYINT": {"SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE"},
    "SMALLINT": {"INTEGER", "BIGINT", "HUGEINT", "DOUBLE"},
    "INTEGER": {"BIGINT", "HUGEINT", "DOUBLE"},
    "BIGINT": {"HUGEINT"},
    "FLOAT": {"DOUBLE"},
    "DATE": {"TIMESTAMP"},
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


@dataclass(frozen=True)
class Change:
    kind: str
    detail: str
    breaking: bool
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _type_widens(old: str, new: str) -> bool:
    old, new = old.upper().replace(" ", ""), new.upper().replace(" ", "")
    if old == new:
        return True
    if new in _WIDENS.get(old, set()):
        return True
    o, n = _DECIMAL.match(old), _DECIMAL.match(new)
    if o and n:  # more digits before and after the point never loses a value
        return int(n.group(2)) >= int(o.group(2)) and int(n.group(1)) - int(n.group(2)) >= int(o.group(1)) - int(
            o.group(2)
        )
    return old.startswith("VARCHAR") and new == "VARCHAR"


def _loosened(old: Rule, new: Rule) -> str | None:
    """Why ``new`` promises less than ``old`` (same rule id), or None."""
    o, n = old.params, new.params
    if old.kind == "range":
        lower = o["min"] is not None and (n["min"] is None or n["min"] < o["min"])
        upper = o["max"] is not None and (n["max"] is None or n["max"] > o["max"])
        if lower or upper:
            return f"range widened from [{o['min']}, {o['max']}] to [{n['min']}, {n['max']}]"
    if old.kind == "length" and (
        (o["min"] or 0) > (n["min"] or 0) or (o["max"] is not None and (n["max"] is None or n["max"] > o["max"]))
    ):
        return f"length widened from {o['min']}..{o['max']} to {n['min']}..{n['max']}"
    if old.kind == "allowed_values":
        added = [v for v in n["values"] if v not in o["values"]]
        if added:
            return f"new allowed values {added}"
    if old.kind == "pattern" and o["pattern"] != n["pattern"]:
        return f"pattern changed from /{o['pattern']}/ to /{n['pattern']}/"
    if old.kind == "foreign_key" and (o["product"], o["column"]) != (n["product"], n["column"]):
        return f"now references {n['product']}.{n['column']} instead of {o['product']}.{o['column']}"
    if old.severity == "error" and new.severity == "warn":
        return "now only a warning"
    return None


def diff(old: Contract, new: Contract, product: str) -> list[Change]:
    changes: list[Change] = []
    old_cols = {c.name: c for c in old.columns}
    new_cols = {c.name: c for c in new.columns}
    for name, column in old_cols.items():
        if name not in new_cols:
            changes.append(Change("column removed", f"column '{name}' was removed or renamed", True, name))
            continue
        after = new_cols[name]
        if column.physical_type.upper().replace(" ", "") != after.physical_type.upper().replace(" ", ""):
            widened = _type_widens(column.physical_type, after.physical_type)
            changes.append(
                Change(
                    "type changed",
                    f"'{name}' {column.physical_type} -> {after.physical_type}" + (" (widened)" if widened else ""),
                    not widened,
                    name,
                )
            )
        if column.classification != after.classification:
            changes.append(
                Change(
                    "classification changed", f"'{name}' {column.classification} -> {after.classification}", False, name
                )
            )
    for name in new_cols.keys() - old_cols.keys():
        changes.append(Change("column added", f"column '{name}' was added", False, name))
    old_pk = [
        c.name for c in sorted((c for c in old.columns if c.primary_key), key=lambda c: c.prop.primaryKeyPosition or 0)
    ]
    new_pk = [
        c.name for c in sorted((c for c in new.columns if c.primary_key), key=lambda c: c.prop.primaryKeyPosition or 0)
    ]
    if old_pk != new_pk:
        changes.append(Change("primary key changed", f"primary key {old_pk} -> {new_pk}", True))
    old_rules = {r.id: r for r in compile_rules(old, product)[0]}
    new_rules = {r.id: r for r in compile_rules(new, product)[0]}
    for rule_id, rule in old_rules.items():
        if rule.columns and any(c not in new_cols for c in rule.columns):
            continue  # already reported as a removed column
        if rule_id not in new_rules:
            if rule.severity == "error" and not (
                rule.kind == "unique" and rule.columns and len(rule.columns) > 1 and old_pk != new_pk
            ):
                changes.append(
                    Change("guarantee dropped", f"no longer guaranteed: {rule.description}", True, rule.column)
                )
            continue
        reason = _loosened(rule, new_rules[rule_id])
        if reason:
            changes.append(Change("guarantee loosened", f"{rule.description}: {reason}", True, rule.column))
    for rule_id in new_rules.keys() - old_rules.keys():
        changes.append(
            Change(
                "guarantee added", f"now guaranteed: {new_rules[rule_id].description}", False, new_rules[rule_id].column
            )
        )
    return changes


@dataclass
class PortDiff:
    port: str
    baseline: str
    old_version: str | None
    new_version: str
    changes: list[Change]
    consumers: list[str]

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def major_bumped(self) -> bool:
        return self.old_version is not None and self.new_version.split(".")[0] != self.old_version.split(".")[0]

    @property
    def blocked(self) -> bool:
        """Breaking for registered consumers of this major version without a new major: CI must fail."""
        return bool(self.breaking) and not self.major_bumped and bool(self.consumers)

    @property
    def verdict(self) -> str:
        if self.old_version is None:
            return "new"
        if not self.changes:
            return "unchanged"
        if not self.breaking:
            return "compatible"
        if self.major_bumped:
            return "breaking, new major version"
        return "BREAKING for registered consumers" if self.consumers else "breaking, no registered consumer"

    def as_dict(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "baseline": self.baseline,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "verdict": self.verdict,
            "blocked": self.blocked,
            "consumers": self.consumers,
            "changes": [c.as_dict() for c in self.changes],
        }
