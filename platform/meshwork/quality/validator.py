"""Run a contract's rules inside DuckDB, before publish, at any data size.

Row-level rules (not null, range, length, pattern, allowed values) and the row count and freshness
are computed in ONE scan of the table (an aggregate with a ``count(*) FILTER (WHERE …)`` per rule);
uniqueness, foreign keys and SQL rules are one query each. Every value from a contract reaches SQL
as a bound parameter; a contract's own ``type: sql`` query runs in ``meshwork.quality.sandbox``,
which sees the table and nothing else. Only failing rules pay for a sample of failing rows, and PII
columns are redacted in those samples before they go anywhere (check metadata, logs, CLI).
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb

from meshwork.core import durations, settings
from meshwork.core.names import quote
from meshwork.core.sqltypes import canonical_types
from meshwork.model import sql_rules
from meshwork.model.classification import PII_PATTERN, is_pii
from meshwork.model.contracts import Contract
from meshwork.model.rules import Rule
from meshwork.quality import sandbox

_LOOKS_PII = re.compile(PII_PATTERN)
SAMPLE_ROWS = 5
REDACTED = "***"


@dataclass
class RuleResult:
    rule: Rule
    passed: bool
    failing_rows: int | None = None
    detail: str = ""
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocks(self) -> bool:
        return not self.passed and self.rule.severity == "error"

    def describe(self) -> str:
        status = "ok" if self.passed else ("FAILED" if self.rule.severity == "error" else "warning")
        count = f", {self.failing_rows:,} failing row(s)" if self.failing_rows else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"[{status}] {self.rule.description}{count}{detail}"


@dataclass
class QualityReport:
    port: str
    row_count: int
    results: list[RuleResult]

    @property
    def passed(self) -> bool:
        return not any(r.blocks for r in self.results)

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]

    def describe(self) -> str:
        head = (
            f"{self.port}: {'passed' if self.passed else 'FAILED'} ({self.row_count:,} rows, {len(self.results)} rules)"
        )
        lines = [head] + [f"  {r.describe()}" for r in self.failures]
        for r in self.failures:
            if r.sample:
                lines.append(f"  sample for '{r.rule.id}': {r.sample}")
        return "\n".join(lines)


def _violation(rule: Rule, col_type: str) -> tuple[str, list[Any]] | None:
    """SQL predicate true for a row that breaks ``rule``, and its parameters (None: not row-level)."""
    c = quote(rule.columns[0]) if rule.columns else ""
    p = rule.params
    if rule.kind == "not_null":
        return f"{c} IS NULL", []
    if rule.kind == "range":
        below = "<=" if p["min_exclusive"] else "<"
        above = ">=" if p["max_exclusive"] else ">"
        return _outside(c, p["min"], p["max"], below, above, f"CAST(? AS {col_type})")
    if rule.kind == "length":
        return _outside(f"length({c})", p["min"], p["max"], "<", ">", "?")
    if rule.kind == "pattern":
        return f"NOT regexp_full_match({c}, ?)", [p["pattern"]]
    if rule.kind == "no_pii":
        return f"regexp_matches(CAST({c} AS VARCHAR), ?)", [p["pattern"]]  # text, or a list of text
    if rule.kind == "allowed_values":
        return f"NOT list_contains(CAST(? AS {col_type}[]), {c})", [p["values"]]
    return None


def _outside(value: str, lo: Any, hi: Any, below: str, above: str, param: str) -> tuple[str, list[Any]]:
    """Predicate true when ``value`` falls outside [lo, hi] (either bound may be open)."""
    parts, args = [], []
    if lo is not None:
        parts.append(f"{value} {below} {param}")
        args.append(lo)
    if hi is not None:
        parts.append(f"{value} {above} {param}")
        args.append(hi)
    return " OR ".join(parts), args


def _compare(value: float, ops: dict[str, float]) -> bool:
    checks = {
        "mustBe": lambda v, x: v == x,
        "mustBeGreaterThan": lambda v, x: v > x,
        "mustBeGreaterOrEqualTo": lambda v, x: v >= x,
        "mustBeLessThan": lambda v, x: v < x,
        "mustBeLessOrEqualTo": lambda v, x: v <= x,
    }
    return all(checks[op](value, bound) for op, bound in ops.items())


PortResolver = Callable[[str], str]  # product key -> SQL table expression over its resolved snapshot


class Validator:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        contract: Contract,
        port: str,
        resolve_port: PortResolver | None = None,
        domain: str | None = None,
    ):
        self.con = con
        self.table = table
        self.contract = contract
        self.port = port
        self.resolve_port = resolve_port
        self.domain = domain
        actual = {r[0]: r[1] for r in con.execute(f"DESCRIBE {quote(table)}").fetchall()}
        self.types = actual
        self.pii = [c.name for c in contract.columns if is_pii(c)]
        self._snapshot = sandbox.Snapshot(con, table)  # exported only if a SQL rule runs

    # -- public ---------------------------------------------------------------------------------
    def run(self, rules: list[Rule]) -> QualityReport:
        results = self._schema()
        missing = {r.rule.columns[0] for r in results if not r.passed and r.rule.kind == "column"}
        runnable = [r for r in rules if not set(r.columns) & missing]
        for r in rules:
            if r not in runnable:
                results.append(RuleResult(r, False, detail="not run: its column is missing"))
        row_level: list[tuple[Rule, tuple[str, list[Any]]]] = []
        for r in runnable:
            violation = _violation(r, self.types[r.columns[0]]) if r.columns else None
            if violation is not None:
                row_level.append((r, violation))
        row_count, counts, newest = self._single_pass(row_level, [r for r in runnable if r.kind == "freshness"])
        for rule, (predicate, args) in row_level:
            failing = counts[rule.id]
            result = RuleResult(rule, failing == 0, failing)
            if failing:
                result.sample = self._sample(predicate, args)
            results.append(result)
        try:
            results += self._run_each(runnable, row_count, newest)
        finally:
            self._snapshot.close()
        return QualityReport(self.port, row_count, results)

    def _run_each(self, runnable: list[Rule], row_count: int, newest: dict[str, Any]) -> list[RuleResult]:
        results = []
        for rule in runnable:
            handler = {
                "unique": self._unique,
                "row_count": lambda r: self._row_count(r, row_count),
                "freshness": lambda r: self._freshness(r, newest[r.id]),
                "foreign_key": self._foreign_key,
                "sql": self._sql,
                "python": self._python,
            }.get(rule.kind)
            if handler:
                results.append(handler(rule))
        return results

    # -- rules ----------------------------------------------------------------------------------
    def _schema(self) -> list[RuleResult]:
        results = []
        expected_types = canonical_types(self.con, [c.physical_type for c in self.contract.columns])
        for column, expected in zip(self.contract.columns, expected_types, strict=True):
            rule = Rule(
                f"{column.name}.column",
                "column",
                f"column '{column.name}' is present as {column.physical_type}",
                columns=(column.name,),
            )
            if column.name not in self.types:
                results.append(RuleResult(rule, False, detail="the column is missing from the produced data"))
                continue
            if self.types[column.name] != expected:
                results.append(RuleResult(rule, False, detail=f"it is {self.types[column.name]}"))
            else:
                results.append(RuleResult(rule, True))
        return results

    def _single_pass(self, row_level, freshness) -> tuple[int, dict[str, int], dict[str, Any]]:
        selects, args = ["count(*)"], []
        for _rule, (predicate, params) in row_level:
            selects.append(f"count(*) FILTER (WHERE {predicate})")
            args += params
        for rule in freshness:
            selects.append(f"max({quote(rule.columns[0])})")
        row = self.con.execute(f"SELECT {', '.join(selects)} FROM {quote(self.table)}", args).fetchall()[0]
        counts = {rule.id: int(row[1 + i]) for i, (rule, _) in enumerate(row_level)}
        newest = {rule.id: row[1 + len(row_level) + i] for i, rule in enumerate(freshness)}
        return int(row[0]), counts, newest

    def _sample(self, predicate: str, args: list[Any]) -> list[dict[str, Any]]:
        cur = self.con.execute(f"SELECT * FROM {quote(self.table)} WHERE {predicate} LIMIT {SAMPLE_ROWS}", args)
        names = [d[0] for d in cur.description]
        return [self._redact(dict(zip(names, row, strict=True))) for row in cur.fetchall()]

    def _redact(self, row: dict[str, Any]) -> dict[str, Any]:
        # PII columns, and any text that looks like PII wherever it sits (what the no_pii rule finds).
        return {
            k: (REDACTED if v is not None and (k in self.pii or _LOOKS_PII.search(str(v))) else _plain(v))
            for k, v in row.items()
        }

    def _unique(self, rule: Rule) -> RuleResult:
        cols = ", ".join(quote(c) for c in rule.columns)
        not_null = " AND ".join(f"{quote(c)} IS NOT NULL" for c in rule.columns)
        dupes = f"SELECT {cols}, count(*) AS n FROM {quote(self.table)} WHERE {not_null} GROUP BY ALL HAVING n > 1"
        keys, rows = self.con.execute(f"SELECT count(*), coalesce(sum(n), 0) FROM ({dupes})").fetchall()[0]
        result = RuleResult(rule, keys == 0, int(rows), detail=f"{keys:,} duplicated key(s)" if keys else "")
        if keys:
            cur = self.con.execute(f"{dupes} ORDER BY n DESC LIMIT {SAMPLE_ROWS}")
            names = [d[0] for d in cur.description]
            result.sample = [self._redact(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
        return result

    def _row_count(self, rule: Rule, row_count: int) -> RuleResult:
        ok = _compare(row_count, rule.params["ops"])
        return RuleResult(rule, ok, detail="" if ok else f"it is {row_count:,}")

    def _freshness(self, rule: Rule, newest: Any) -> RuleResult:
        if newest is None:
            return RuleResult(rule, False, detail="the column has no values")
        if newest.tzinfo is None:
            newest = newest.replace(tzinfo=UTC)
        age = (datetime.now(UTC) - newest).total_seconds()
        ok = age <= rule.params["max_age_seconds"]
        return RuleResult(
            rule, ok, detail="" if ok else f"the newest value is {newest.isoformat()}, {durations.humanize(age)} old"
        )

    def _foreign_key(self, rule: Rule) -> RuleResult:
        if self.resolve_port is None:
            return RuleResult(rule, False, detail="no port reader to resolve the referenced product")
        try:
            target = self.resolve_port(rule.params["product"])
        except Exception as exc:  # the reader explains why (undeclared input, nothing published, …)
            return RuleResult(rule, False, detail=str(exc))
        c, ref = quote(rule.columns[0]), quote(rule.params["column"])
        orphans = (
            f"SELECT t.* FROM {quote(self.table)} AS t ANTI JOIN (SELECT {ref} AS k FROM {target}) AS r "
            f"ON t.{c} = r.k WHERE t.{c} IS NOT NULL"
        )
        failing = self.con.execute(f"SELECT count(*) FROM ({orphans})").fetchall()[0][0]
        result = RuleResult(rule, failing == 0, int(failing))
        if failing:
            cur = self.con.execute(f"{orphans} LIMIT {SAMPLE_ROWS}")
            names = [d[0] for d in cur.description]
            result.sample = [self._redact(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
        return result

    def _sql(self, rule: Rule) -> RuleResult:
        # Checked at load too; again here for a contract edited under a running location.
        refused = sql_rules.problems(rule.params["query"], column=rule.column)
        if refused:
            return RuleResult(rule, False, detail=f"not run: the query {'; '.join(refused)}")
        query = sql_rules.substitute(rule.params["query"], rule.column)
        try:
            value = sandbox.run(query, self._snapshot.path, self.types, settings.sql_rule_timeout())
        except sandbox.SandboxError as exc:
            return RuleResult(rule, False, detail=str(exc))
        if value is not None and not isinstance(value, int | float | Decimal):
            return RuleResult(rule, False, detail=f"the query returned {value!r}, not a number")
        ok = value is not None and _compare(float(value), rule.params["ops"])
        return RuleResult(
            rule,
            ok,
            int(value) if ok is False and isinstance(value, int) else None,
            detail="" if ok else f"the query returned {value}",
        )

    def _python(self, rule: Rule) -> RuleResult:
        # Deferred: pandera and ibis take seconds to import; only contracts with Python checks need them.
        from meshwork.quality import pandera_checks

        module_name, _, attr = rule.params["implementation"].partition(":")
        try:
            fn = getattr(importlib.import_module(f"domains.{self.domain}.{module_name}"), attr)
        except (ImportError, AttributeError) as exc:
            return RuleResult(rule, False, detail=f"cannot load {rule.params['implementation']}: {exc}")
        failing, sample = pandera_checks.run(fn, self.con, self.table)
        result = RuleResult(rule, failing == 0, failing)
        result.sample = [self._redact(r) for r in sample]
        return result


def _plain(value: Any) -> Any:
    """JSON-friendly sample values."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
