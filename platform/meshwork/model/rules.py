"""Compile an ODCS contract into the list of rules Meshwork enforces before publishing.

Every rule comes from a standard ODCS place, so a contract written for another tool means the same
thing here:

===================  ==========================================================================
rule                 where it is declared in ODCS v3
===================  ==========================================================================
column present/type  ``schema[0].properties[].name`` / ``physicalType``
not null             ``required: true`` (and every ``primaryKey`` column)
unique               ``unique: true``; composite primary key from ``primaryKey`` + position
range                ``logicalTypeOptions.minimum|maximum|exclusiveMinimum|exclusiveMaximum``
string length        ``logicalTypeOptions.minLength|maxLength``
pattern              ``logicalTypeOptions.pattern``, or ``quality: {metric: invalidValues,
                     arguments: {pattern: …}}``
no PII in clear      implied on every text column classified public or internal: no e-mail
                     address or phone number (opt out: custom property ``piiScan: false``)
allowed values       ``quality: {metric: invalidValues, arguments: {validValues: [...]}}`` (the property
                     ``enum`` of unreleased ODCS drafts fails the schema; `mesh upgrade` rewrites it)
row count            schema-level ``quality: {metric: rowCount, mustBeBetween|…}``
freshness            ``slaProperties: {property: freshness, value, unit, element: <table.column>}``
foreign key          property ``relationships: [{type: foreignKey, to: <contract>#/schema/<p>/properties/<c>}]``
                     (ODCS v3.1's fully qualified reference; the contract file names domain and product)
custom SQL           ``quality: {type: sql, query: "SELECT count(*) FROM ${table} WHERE …", mustBe: 0}``;
                     one read-only query over ``${table}`` only (``meshwork.model.sql_rules``)
Python (pandera)     ``quality: {type: custom, engine: pandera, implementation: "<module>:<function>"}``
===================  ==========================================================================

Severity comes from ``severity`` on a quality item (``error`` by default; ``warn``/``warning``
publish and record the finding). Malformed rules are load-time problems with file and field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from meshwork.core.errors import Problem
from meshwork.model import sql_rules
from meshwork.model.classification import PII_PATTERN
from meshwork.model.contracts import Contract

Severity = Literal["error", "warn"]
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    description: str
    severity: Severity = "error"
    columns: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def column(self) -> str | None:
        return self.columns[0] if len(self.columns) == 1 else None


def _severity(value: str | None) -> Severity | None:
    if value in (None, "", "error", "critical"):
        return "error"
    if value in ("warn", "warning", "info"):
        return "warn"
    return None


def _bounds(item: Any) -> dict[str, float]:
    """ODCS comparison operators of a quality item, as {op: value}."""
    ops = {}
    for name in ("mustBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan", "mustBeLessOrEqualTo"):
        if getattr(item, name, None) is not None:
            ops[name] = getattr(item, name)
    if item.mustBeBetween is not None:
        ops["mustBeGreaterOrEqualTo"], ops["mustBeLessOrEqualTo"] = item.mustBeBetween
    return ops


def _words(ops: dict[str, float]) -> str:
    text = {
        "mustBe": "equal {}",
        "mustBeGreaterThan": "be greater than {}",
        "mustBeGreaterOrEqualTo": "be at least {}",
        "mustBeLessThan": "be less than {}",
        "mustBeLessOrEqualTo": "be at most {}",
    }
    return " and ".join(text[k].format(v) for k, v in ops.items())


def _scans_for_pii(column: Any) -> bool:
    """Text columns classified public or internal are scanned for PII that should not be there.

    A column that legitimately holds such values opts out with the custom property ``piiScan: false``.
    """
    opted_out = any(
        p.property == "piiScan" and str(p.value).lower() == "false" for p in column.prop.customProperties or []
    )
    text = column.physical_type.upper().startswith(("VARCHAR", "TEXT", "STRING"))
    return text and (column.classification or "").lower() in ("public", "internal") and not opted_out


def compile_rules(contract: Contract, product: str) -> tuple[list[Rule], list[Problem]]:
    """The rules of ``contract`` (the contract of ``product``), or the problems that stop it loading."""
    rules: list[Rule] = []
    problems: list[Problem] = []
    obj = contract.schema_object

    def bad(where: str, reason: str) -> None:
        problems.append(Problem(reason, file=contract.path, field=where, product=product))

    pk = sorted((c for c in contract.columns if c.primary_key), key=lambda c: c.prop.primaryKeyPosition or 0)
    for i, column in enumerate(contract.columns):
        where = f"schema.0.properties.{i}"
        name, prop = column.name, column.prop
        if column.required:
            rules.append(Rule(f"{name}.not_null", "not_null", f"'{name}' is never empty", columns=(name,)))
        if column.unique or (column.primary_key and len(pk) == 1):
            rules.append(Rule(f"{name}.unique", "unique", f"'{name}' is unique", columns=(name,)))
        options = prop.logicalTypeOptions or {}
        lo = options.get("minimum", options.get("exclusiveMinimum"))
        hi = options.get("maximum", options.get("exclusiveMaximum"))
        if lo is not None or hi is not None:
            params = {
                "min": lo,
                "max": hi,
                "min_exclusive": "exclusiveMinimum" in options,
                "max_exclusive": "exclusiveMaximum" in options,
            }
            span = (
                f"{'(' if params['min_exclusive'] else '['}{lo if lo is not None else '…'}, "
                f"{hi if hi is not None else '…'}{')' if params['max_exclusive'] else ']'}"
            )
            rules.append(Rule(f"{name}.range", "range", f"'{name}' lies in {span}", columns=(name,), params=params))
        if "minLength" in options or "maxLength" in options:
            params = {"min": options.get("minLength"), "max": options.get("maxLength")}
            rules.append(
                Rule(
                    f"{name}.length",
                    "length",
                    f"'{name}' has {params['min'] or 0} to {params['max'] or '∞'} characters",
                    columns=(name,),
                    params=params,
                )
            )
        if "pattern" in options:
            rules.append(_pattern_rule(name, options["pattern"], "error", bad, f"{where}.logicalTypeOptions.pattern"))
        for j, rel in enumerate(prop.relationships or []):
            target = foreign_key_target(rel.to, product) if (rel.type or "foreignKey") == "foreignKey" else None
            if target is None:
                bad(
                    f"{where}.relationships.{j}.to",
                    "a foreign key points at another product's column with ODCS's fully qualified reference: "
                    "<path to its contract>#/schema/<product>/properties/<column>, e.g. "
                    "../../customers/contracts/customer_profiles.odcs.yaml#/schema/customer_profiles/properties/"
                    "customer_id (`mesh upgrade` rewrites the older <domain>.<product>.<column> form)",
                )
                continue
            target_product, target_column = target
            rules.append(
                Rule(
                    f"{name}.foreign_key",
                    "foreign_key",
                    f"every '{name}' exists in {target_product}.{target_column}",
                    columns=(name,),
                    params={"product": target_product, "column": target_column},
                )
            )
        if _scans_for_pii(column):
            rules.append(
                Rule(
                    f"{name}.no_pii",
                    "no_pii",
                    f"'{name}' ({column.classification}) holds no e-mail address or phone number",
                    columns=(name,),
                    params={"pattern": PII_PATTERN},
                )
            )
        for j, item in enumerate(prop.quality or []):
            rule = _quality_rule(item, name, f"{where}.quality.{j}", bad)
            if rule:
                rules.append(rule)
    if len(pk) > 1:
        cols = tuple(c.name for c in pk)
        rules.append(Rule("primary_key.unique", "unique", f"({', '.join(cols)}) identifies each row", columns=cols))
    for j, item in enumerate(obj.quality or []):
        rule = _quality_rule(item, None, f"schema.0.quality.{j}", bad)
        if rule:
            rules.append(rule)
    for j, sla in enumerate(contract.model.slaProperties or []):
        if sla.property != "freshness":
            continue
        rule = _freshness_rule(sla, contract, f"slaProperties.{j}", bad)
        if rule:
            rules.append(rule)
    ids = [r.id for r in rules]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        bad("quality", f"two rules share the id '{dup}'; give one of them a distinct 'name'")
    return rules, problems


# ODCS v3.1 fully qualified reference to a property of another contract, as Meshwork lays them out:
# [../../<domain>/contracts/]<product>.odcs.yaml#/schema/<product>/properties/<column>
_REFERENCE = re.compile(
    r"^(?:\.\./\.\./(?P<domain>[a-z][a-z0-9_]*)/contracts/)?(?P<product>[a-z][a-z0-9_]*)\.odcs\.yaml"
    r"#/schema/(?P=product)/properties/(?P<column>[A-Za-z_][A-Za-z0-9_]*)\Z"
)


def foreign_key_target(to: Any, product: str) -> tuple[str, str] | None:
    """(``domain/product``, column) a relationship's ``to`` names, or None if it is not one Meshwork reads.

    A reference without a folder names a sibling contract of the same domain (``product``'s).
    """
    found = _REFERENCE.match(to) if isinstance(to, str) else None
    if found is None:
        return None
    domain = found["domain"] or product.split("/")[0]
    return f"{domain}/{found['product']}", found["column"]


def _pattern_rule(column: str, pattern: str, severity: Severity, bad, where: str) -> Rule:
    try:
        re.compile(pattern)
    except re.error as exc:
        bad(where, f"'{pattern}' is not a valid regular expression: {exc}")
    return Rule(
        f"{column}.pattern",
        "pattern",
        f"'{column}' matches /{pattern}/",
        severity,
        columns=(column,),
        params={"pattern": pattern},
    )


def _quality_rule(item: Any, column: str | None, where: str, bad) -> Rule | None:
    severity = _severity(item.severity)
    if severity is None:
        bad(f"{where}.severity", f"unknown severity '{item.severity}': use error or warn")
        return None
    kind = item.type or "library"
    prefix = f"{column}." if column else ""
    if kind == "text":
        return None  # documentation for people, nothing to run
    if kind == "sql":
        ops = _bounds(item) or {"mustBe": 0}
        if "${table}" not in (item.query or "") and "${object}" not in (item.query or ""):
            bad(f"{where}.query", "a SQL rule must read the product through ${table}")
            return None
        # A stable id (Python's hash() changes per process): the same query keeps the same rule id.
        name = item.name or f"sql_{hashlib.sha1(item.query.encode()).hexdigest()[:8]}"
        refused = sql_rules.problems(item.query, column=column)
        for reason in refused:
            bad(f"{where}.query", f"SQL rule '{prefix}{name}' {reason}")
        if refused:
            return None
        return Rule(
            f"{prefix}{name}",
            "sql",
            item.description or f"{item.query} must {_words(ops)}",
            severity,
            columns=(column,) if column else (),
            params={"query": item.query, "ops": ops},
        )
    if kind == "custom":
        if (
            (item.engine or "").lower() != "pandera"
            or not isinstance(item.implementation, str)
            or ":" not in item.implementation
        ):
            bad(
                where,
                "a custom rule needs engine: pandera and implementation: '<module>:<function>' in the domain package",
            )
            return None
        name = item.name or item.implementation.split(":")[1]
        return Rule(
            f"{prefix}{name}",
            "python",
            item.description or f"domain check {item.implementation}",
            severity,
            columns=(column,) if column else (),
            params={"implementation": item.implementation},
        )
    metric = item.metric or item.rule
    ops = _bounds(item)
    args = item.arguments or {}
    if metric == "rowCount":
        if column or not ops:
            bad(where, "rowCount is a schema-level rule with bounds (mustBeBetween, mustBeGreaterThan, …)")
            return None
        return Rule(
            item.name or "row_count", "row_count", f"the row count must {_words(ops)}", severity, params={"ops": ops}
        )
    if column is None:
        bad(f"{where}.metric", f"'{metric}' applies to a column: declare it under that property's quality")
        return None
    if ops and ops != {"mustBe": 0}:
        bad(where, f"Meshwork enforces '{metric}' as 'no failing rows' (mustBe: 0)")
        return None
    if metric in ("nullValues", "missingValues"):
        return Rule(f"{column}.not_null", "not_null", f"'{column}' is never empty", severity, columns=(column,))
    if metric == "duplicateValues":
        return Rule(f"{column}.unique", "unique", f"'{column}' is unique", severity, columns=(column,))
    if metric == "invalidValues" and "validValues" in args:
        return Rule(
            f"{column}.allowed_values",
            "allowed_values",
            f"'{column}' is one of {args['validValues']}",
            severity,
            columns=(column,),
            params={"values": list(args["validValues"])},
        )
    if metric == "invalidValues" and "pattern" in args:
        return _pattern_rule(column, args["pattern"], severity, bad, f"{where}.arguments.pattern")
    bad(f"{where}.metric", f"unsupported quality rule '{metric}' with arguments {sorted(args)}")
    return None


def _freshness_rule(sla: Any, contract: Contract, where: str, bad) -> Rule | None:
    element = (sla.element or "").split(".")[-1]
    unit = _UNITS.get((sla.unit or "").lower())
    if not contract.column(element) or unit is None or not isinstance(sla.value, int | float):
        bad(where, "freshness needs value, unit (m, h or d) and element: <table>.<timestamp column>")
        return None
    window = timedelta(**{unit: sla.value})
    return Rule(
        f"{element}.freshness",
        "freshness",
        f"the newest '{element}' is at most {sla.value}{sla.unit} old",
        _severity(None) or "error",
        columns=(element,),
        params={"max_age_seconds": window.total_seconds()},
    )
