"""Which input columns a query reads without copying them: OpenLineage's INDIRECT column lineage.

sqlglot's ``lineage`` follows every column an output expression mentions, so a column used only in
a ``CASE WHEN`` condition looked like a direct input. Here the query (its upstream models expanded
in place) is qualified with sqlglot's optimizer and walked scope by scope:

- per output column, each input column is ``DIRECT`` (its value flows into the output) or
  ``INDIRECT``/``CONDITIONAL`` (it only decides which value: CASE conditions, ``IF``) or
  ``INDIRECT``/``FILTER`` (an aggregate's ``FILTER (WHERE …)``);
- for the dataset as a whole, the columns that decide which rows exist and how they are grouped:
  ``FILTER`` (WHERE, HAVING, QUALIFY), ``JOIN`` (join conditions), ``GROUP_BY``, ``SORT`` and ``WINDOW``.

Columns are traced down through CTEs, subqueries and expanded models to the port views and landing
files (``resolve``); a column sqlglot cannot place is left out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

DIRECT = "DIRECT"


@dataclass(frozen=True, order=True)
class Use:
    """An input column (``relation`` as the caller's ``relation_of`` names it, ``column``) and how it is used."""

    relation: Any
    column: str
    type: str  # DIRECT or INDIRECT
    subtype: str | None  # for INDIRECT: CONDITIONAL, FILTER, JOIN, GROUP_BY, SORT, WINDOW


RelationOf = Callable[[exp.Table], Any]


def _conditions(node: Any) -> Iterator[tuple[exp.Expression, str]]:
    """The parts of an expression that decide rather than carry a value, with their subtype."""
    for case in node.find_all(exp.Case):
        if case.this is not None:  # CASE x WHEN …: x decides
            yield case.this, "CONDITIONAL"
        for branch in case.args.get("ifs") or []:
            yield branch.this, "CONDITIONAL"
    for cond in node.find_all(exp.If):
        if cond.parent is None or not isinstance(cond.parent, exp.Case):
            yield cond.this, "CONDITIONAL"
    for agg_filter in node.find_all(exp.Filter):
        yield agg_filter.expression, "FILTER"


def _split(node: Any) -> tuple[list[exp.Column], list[tuple[exp.Column, str]]]:
    """(value columns, [(deciding column, subtype)]) of a projection."""
    deciding: list[tuple[exp.Column, str]] = []
    seen: set[int] = set()
    for part, subtype in _conditions(node):
        for column in part.find_all(exp.Column):
            if id(column) not in seen:
                seen.add(id(column))
                deciding.append((column, subtype))
    values = [c for c in node.find_all(exp.Column) if id(c) not in seen]
    return values, deciding


class Resolver:
    """Traces columns of a qualified query down to the base relations ``relation_of`` names."""

    def __init__(self, relation_of: RelationOf):
        self.relation_of = relation_of

    def resolve(self, scope: Scope, column: exp.Column, kind: tuple[str, str | None]) -> set[Use]:
        # sqlglot leaves a column unqualified when it cannot see its relation's columns (a landing
        # file read with `select *`): with one relation in the scope, that is where it comes from.
        selected = scope.selected_sources
        table = column.table or (next(iter(selected)) if len(selected) == 1 else "")
        source = scope.sources.get(table)
        if isinstance(source, exp.Table):
            relation = self.relation_of(source)
            return {Use(relation, column.name, *kind)} if relation else set()
        if isinstance(source, Scope):
            return self.projection(source, column.name, kind)
        return set()

    def projection(self, scope: Scope, name: str, kind: tuple[str, str | None]) -> set[Use]:
        """Where the output ``name`` of ``scope`` comes from; ``kind`` is how the caller uses it."""
        if scope.is_set_operation:  # UNION / INTERSECT / EXCEPT: every branch feeds the column
            return {u for branch in scope.set_operation_scopes for u in self.projection(branch, name, kind)}
        select = scope.expression
        if not isinstance(select, exp.Select):
            return set()
        found = next((p for p in select.selects if p.alias_or_name == name), None)
        if found is None:  # `select *` over a relation whose columns are unknown (a landing file)
            if any(isinstance(p, exp.Star) for p in select.selects) and len(scope.sources) == 1:
                [(alias, _)] = scope.sources.items()
                return self.resolve(scope, exp.column(name, table=alias), kind)
            return set()
        values, deciding = _split(found)
        uses: set[Use] = set()
        for column in values:
            uses |= self.resolve(scope, column, kind)
        for column, subtype in deciding:
            # A deciding column stays deciding however it is used further up.
            uses |= self.resolve(scope, column, ("INDIRECT", subtype))
        return uses

    def columns(self, scope: Scope, node: Any, subtype: str) -> set[Use]:
        if node is None:
            return set()
        return {u for c in node.find_all(exp.Column) for u in self.projection_or_resolve(scope, c, subtype)}

    def projection_or_resolve(self, scope: Scope, column: exp.Column, subtype: str) -> set[Use]:
        # Every column a clause reads counts, whatever it is computed from: its own inputs decide.
        return {
            Use(u.relation, u.column, "INDIRECT", subtype) for u in self.resolve(scope, column, ("INDIRECT", subtype))
        }

    def dataset(self, root: Any) -> set[Use]:
        """Columns that decide which rows the query returns and how they are grouped or ordered."""
        uses: set[Use] = set()
        top = build_scope(root)
        if top is None:
            return uses
        for scope in top.traverse():
            select = scope.expression
            if not isinstance(select, exp.Select):
                continue
            for clause, subtype in (("where", "FILTER"), ("having", "FILTER"), ("qualify", "FILTER")):
                uses |= self.columns(scope, select.args.get(clause), subtype)
            for join in select.args.get("joins") or []:
                uses |= self.columns(scope, join.args.get("on"), "JOIN")
                for name in join.args.get("using") or []:
                    for alias in scope.sources:
                        uses |= self.projection_or_resolve(scope, exp.column(name.name, table=alias), "JOIN")
            uses |= self.columns(scope, select.args.get("group"), "GROUP_BY")
            uses |= self.columns(scope, select.args.get("order"), "SORT")
            for window in scope.find_all(exp.Window):
                for part in window.args.get("partition_by") or []:
                    uses |= self.columns(scope, part, "WINDOW")
                uses |= self.columns(scope, window.args.get("order"), "WINDOW")
        return uses

    def fields(self, root: Any) -> dict[str, set[Use]]:
        """Per output column of the outermost query: its DIRECT and field-level INDIRECT inputs."""
        top = build_scope(root)
        if top is None or not isinstance(top.expression, exp.Select | exp.SetOperation):
            return {}
        names = [s.alias_or_name for s in (top.expression.selects if isinstance(top.expression, exp.Select) else [])]
        return {name: self.projection(top, name, (DIRECT, None)) for name in names if name != "*"}
