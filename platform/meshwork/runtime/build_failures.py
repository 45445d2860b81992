"""What failed in a domain's build, per product, told in plain words on the console.

Read from the run's own events through Dagster's public API (``DagsterInstance.all_logs``), never by
parsing the log: a failed contract gate's evaluation carries every broken rule in words, its failing-row
count and a sample with PII redacted (``rule_results``, written by the gate); a failed step carries the
exception, whose own message and the innermost frame of the project's code (file:line) are kept. A dbt
error names its model, which names the product. The stack trace stays in the record for ``--verbose``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

import meshwork
from meshwork.core import settings
from meshwork.model.mesh import Mesh
from meshwork.runtime import orphan_runs, specs

_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
# dbt names the failing node: "Database Error in model orders (models/sales/marts/orders.sql)".
_DBT_NODE = re.compile(r"Error in (?:model|test|seed|snapshot) (?P<name>\w+) \((?P<path>[^)]+)\)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DBT_LINE = re.compile(r"\bLINE (?P<line>\d+):")
_CONTRACT = "contract"
_PLATFORM = Path(meshwork.__file__).resolve().parent


@dataclass
class ProductFailure:
    product: str  # domain/product, or the domain's step when no product can be named
    kind: str  # "contract" or "error"
    message: str  # the rules in words, or the exception's own message
    location: str | None = None  # file:line of the failing code (project files first)
    rules: list[dict[str, Any]] = field(default_factory=list)
    stack: str = ""  # shown only with --verbose

    def record(self) -> dict[str, Any]:
        """The JSON form (``mesh build --json``): everything but the stack trace."""
        return {k: v for k, v in asdict(self).items() if k != "stack"}


def collect(mesh: Mesh, domain: str, build_id: str) -> list[ProductFailure]:
    """Failures of the run(s) that ``mesh build`` started for ``domain`` under ``build_id``."""
    failures: list[ProductFailure] = []
    kinds = {
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.RUN_FAILURE,
    }
    with dg.DagsterInstance.from_config(str(settings.dagster_home())) as instance:
        for run in instance.get_runs(filters=dg.RunsFilter(tags={orphan_runs.BUILD_TAG: build_id})):
            events = [e.dagster_event for e in instance.all_logs(run.run_id, of_type=kinds) if e.dagster_event]
            for event in events:
                if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                    failures += _contract_failure(event.event_specific_data)
            told = {f.product for f in failures}
            for event in events:
                if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_key:
                    failure = _step_failure(mesh, domain, event.step_key, event.step_failure_data.error)
                    if failure.product not in told:  # a failed gate's step failure repeats its evaluation
                        failures.append(failure)
            if not failures:  # the run failed outside any step (e.g. its definitions did not load)
                failures += [_run_failure(domain, e) for e in events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    return failures


def _contract_failure(evaluation: Any) -> list[ProductFailure]:
    if evaluation.passed or evaluation.check_name != specs.CONTRACT_CHECK:
        return []
    product = "/".join(evaluation.asset_key.path)
    value = evaluation.metadata.get("rule_results")
    rules = [r for r in (getattr(value, "data", None) or []) if isinstance(r, dict) and not r.get("passed")]
    blocking = [r for r in rules if r.get("severity", "error") == "error"] or rules
    description = str(getattr(evaluation, "description", "") or "")
    message = f"not published: {len(blocking)} contract rule(s) broken" if blocking else description
    return [ProductFailure(product, _CONTRACT, message, rules=blocking)]


def _step_failure(mesh: Mesh, domain: str, step_key: str, error: Any) -> ProductFailure:
    """A failed step: its product, and for dbt the model's file (the message names the model)."""
    failure = _failure_from(_step_product(mesh, domain, step_key), error)
    if found := list(_DBT_NODE.finditer(failure.message)):
        # dagster-dbt's message carries dbt's whole output: keep dbt's own error, from its last heading.
        dbt = found[-1]
        start = failure.message.rfind("\n", 0, dbt.start()) + 1
        text = _ANSI.sub("", failure.message[start:])
        failure.message = "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())
        by_model = {p.descriptor.implementation.model or p.name: p.key for p in mesh.domains[domain].products}
        failure.product = by_model.get(dbt.group("name"), failure.product)
        line = _DBT_LINE.search(failure.message)
        failure.location = f"dbt_project/{dbt.group('path')}" + (
            f":{line.group('line')} (compiled SQL)" if line else ""
        )
    return failure


def _run_failure(domain: str, event: Any) -> ProductFailure:
    error = getattr(event.event_specific_data, "error", None)
    return _failure_from(domain, error) if error else ProductFailure(domain, "error", event.message or "the run failed")


def _failure_from(product: str, error: Any) -> ProductFailure:
    """The innermost exception of a Dagster error chain: its own message and where the project raised it."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    stack = "".join("".join(e.stack or []) + (e.message or "") for e in chain)
    message = (chain[-1].message or "").strip() if chain else "the step failed"
    message = re.sub(r"^[\w.]+\.Failure: ", "", message)  # dg.Failure's class path says nothing to a reader
    location = _project_frame(chain[-1].stack or []) if chain else None
    return ProductFailure(product, "error", message, location, stack=stack)


def _step_product(mesh: Mesh, domain: str, step_key: str) -> str:
    """A Python product's step is ``<domain>__<product>``, its gate's ``<domain>__<product>_contract``;
    dbt's step is ``<domain>__dbt`` (all its models: the dbt message names the model)."""
    for product in mesh.domains[domain].products:
        if step_key in (f"{domain}__{product.name}", f"{domain}__{product.name}_{specs.CONTRACT_CHECK}"):
            return product.key
    return f"{domain} ({step_key})"


def _project_frame(stack: list[str]) -> str | None:
    """file:line of the innermost frame in the domains' own code (not the platform's, not a library's);
    else of the innermost frame at all."""
    frames = [m for line in stack if (m := _FRAME.search(line))]
    if not frames:
        return None
    project = settings.project_dir().resolve()
    own = [
        m
        for m in frames
        if _under(Path(m.group("file")), project) and not _under(Path(m.group("file")), _PLATFORM)
        and "site-packages" not in m.group("file")
    ]  # fmt: skip
    frame = (own or frames)[-1]
    path = Path(frame.group("file"))
    shown = path.resolve().relative_to(project) if _under(path, project) else path
    return f"{shown}:{frame.group('line')}"


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def describe(failures: list[ProductFailure], log: Path, verbose: bool) -> str:
    """The console lines for a failed domain: per product, what broke and where, then the log's path."""
    lines = []
    for f in failures:
        where = f" ({f.location})" if f.location else ""
        message = f.message.replace("\n", "\n          ")  # a multi-line message stays under its product
        lines.append(f"        {f.product}: {message}{where}")
        for r in f.rules:
            count = f", {r['failing_rows']:,} failing row(s)" if r.get("failing_rows") else ""
            detail = f" ({r['detail']})" if r.get("detail") else ""
            lines.append(
                f"          - {r.get('port', '')} `{r.get('rule')}`: {r.get('description', '')}{count}{detail}"
            )
            if r.get("sample"):
                lines.append(f"            sample (PII redacted): {r['sample']}")
        if verbose and f.stack:
            lines += ["          " + line for line in f.stack.rstrip().splitlines()]
    if not failures:
        lines.append("        the run failed before any product did (see the log)")
    lines.append(f"        log: {log}")
    return "\n".join(lines)
