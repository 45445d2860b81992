"""The row-count guard every port has without declaring it.

A header-only export once published 0 rows, and every product downstream published 0 rows after it,
each step "OK". So a port's new snapshot fails its gate, like a failed contract rule, when it has
0 rows, or when it has lost more than ``MESH_ROW_DROP_LIMIT`` (default half) of the rows of the
snapshot ``latest`` names. A contract opts out with ODCS custom properties on its schema object or on
the contract itself: ``allowEmpty: true`` (0 rows is a state the port may be in) and
``maxRowDrop: <share between 0 and 1>``. A first publish has nothing to compare with, so only the
0-row check applies to it.
"""

from __future__ import annotations

from typing import Any

from meshwork.core import settings
from meshwork.model.contracts import Contract
from meshwork.model.mesh import Port
from meshwork.model.rules import Rule
from meshwork.quality.validator import RuleResult
from meshwork.storage import snapshots
from meshwork.storage.port_store import Damaged

ALLOW_EMPTY, MAX_ROW_DROP = "allowEmpty", "maxRowDrop"
_OPT_OUT = f"customProperties {ALLOW_EMPTY}: true in its contract"


def check(port: Port, rows: int) -> RuleResult:
    """The guard's result for a new snapshot of ``port`` holding ``rows`` rows."""
    limit = settings.row_drop_limit()  # read even when the contract overrides it: a bad setting is an error
    rule = Rule("rows.guard", "row_guard", "the port is not empty and keeps enough of the previous snapshot's rows")
    try:
        allow_empty, contract_limit = _opt_outs(port.contract)
    except ValueError as exc:
        return RuleResult(rule, False, detail=str(exc))
    limit = limit if contract_limit is None else contract_limit
    by = "MESH_ROW_DROP_LIMIT" if contract_limit is None else f"{MAX_ROW_DROP} in {port.contract.path.name}"
    rule = Rule(
        "rows.guard",
        "row_guard",
        f"the port {'' if allow_empty else 'is not empty and '}has at most {_share(limit)} fewer rows than the "
        "previous snapshot",
    )
    previous = _previous_rows(port)
    had = f"; the previous snapshot had {previous:,}" if previous is not None else ""
    if rows == 0:
        if allow_empty:
            return RuleResult(rule, True)
        return RuleResult(rule, False, detail=f"it has 0 rows{had} (a port that may be empty says {_OPT_OUT})")
    if previous:
        drop = (previous - rows) / previous
        if drop > limit:
            fewer = f"{_share(drop)} fewer, more than the {_share(limit)} allowed by {by}"
            hint = (
                ""
                if contract_limit is not None
                else f"; a contract may allow more with customProperties {MAX_ROW_DROP}"
            )
            return RuleResult(rule, False, detail=f"it has {rows:,} rows{had}: {fewer}{hint}")
    return RuleResult(rule, True)


def _opt_outs(contract: Contract) -> tuple[bool, float | None]:
    """``allowEmpty``, and the contract's row-drop limit (None: the setting's); the schema object's custom
    properties win over the contract's."""
    found: dict[str, Any] = {}
    for props in (contract.model.customProperties, contract.schema_object.customProperties):
        found.update({p.property: p.value for p in props or [] if p.property in (ALLOW_EMPTY, MAX_ROW_DROP)})
    allow_empty = found.get(ALLOW_EMPTY, False)
    if isinstance(allow_empty, str) and allow_empty.strip().lower() in ("true", "false"):
        allow_empty = allow_empty.strip().lower() == "true"
    if not isinstance(allow_empty, bool):
        raise ValueError(f"{contract.path}: customProperties {ALLOW_EMPTY} {allow_empty!r} is not true or false")
    limit = None
    if MAX_ROW_DROP in found:
        value = found[MAX_ROW_DROP]
        try:
            limit = float(value) if not isinstance(value, bool) else -1.0
        except (TypeError, ValueError):
            limit = -1.0
        if not 0 <= limit <= 1:
            raise ValueError(
                f"{contract.path}: customProperties {MAX_ROW_DROP} {value!r} is not a share between 0 and 1"
            )
    return allow_empty, limit


def _previous_rows(port: Port) -> int | None:
    try:
        snapshot = snapshots.latest_snapshot(port.domain, port.product, port.major)
        return snapshots.read_manifest(port.domain, port.product, port.major, snapshot).row_count if snapshot else None
    except (FileNotFoundError, Damaged):  # nothing to trust for a comparison; this publish repairs `latest`
        return None


def _share(value: float) -> str:
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"
