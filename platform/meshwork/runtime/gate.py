"""The publish gate: a blocking asset check that validates a product and, only if it passes, publishes.

A product's asset builds its table in the domain's private warehouse; nobody outside the domain can
see that. This check then runs every rule of the output port contracts against the table inside
DuckDB and stages the ports' snapshots; the run's last gate publishes every product of the run
together (:mod:`meshwork.runtime.run_publish`). A failing ``error`` rule publishes nothing of the run
(every port keeps its previous snapshot), fails the run, and, being blocking, holds back downstream
products in this run and in automation. ``warn`` rules publish and are recorded.
"""

from typing import Any

import dagster as dg

from meshwork.core.errors import ContractViolation
from meshwork.core.names import quote
from meshwork.model.mesh import Mesh, Product
from meshwork.ports import domain_publish, publish
from meshwork.ports.reader import PortReader, ResolvedPort
from meshwork.quality.validator import QualityReport
from meshwork.runtime import run_lineage, run_publish, specs
from meshwork.storage import warehouse


def table_name(product: Product) -> str:
    return product.descriptor.implementation.model or product.name


def report_metadata(reports: list[QualityReport]) -> dict[str, Any]:
    lines = []
    for report in reports:
        lines.append(f"**{report.port}** — {'passed' if report.passed else 'FAILED'}, {report.row_count:,} rows")
        for r in report.results:
            mark = "✅" if r.passed else ("❌" if r.rule.severity == "error" else "⚠️")
            count = f" — {r.failing_rows:,} failing row(s)" if r.failing_rows else ""
            detail = f" ({r.detail})" if r.detail else ""
            lines.append(f"- {mark} `{r.rule.id}`: {r.rule.description}{count}{detail}")
            if r.sample:
                lines.append(f"  - sample (PII redacted): `{r.sample}`")
    failing = [r for rep in reports for r in rep.failures]
    # The same results as data, for the catalog and mesh metrics (the markdown is for people).
    results = [
        {
            "port": rep.port,
            "rule": r.rule.id,
            "passed": r.passed,
            "severity": r.rule.severity,
            "failing_rows": r.failing_rows,
            "detail": r.detail,
            # What `mesh build` tells on the console for a failed rule (the sample has PII redacted).
            **({"description": r.rule.description, "sample": r.sample} if not r.passed else {}),
        }
        for rep in reports
        for r in rep.results
    ]
    return {
        "rules": dg.MetadataValue.md("\n".join(lines)),
        "rule_results": dg.MetadataValue.json(results),
        "rules_checked": sum(len(rep.results) for rep in reports),
        "rules_failed": sum(1 for r in failing if r.rule.severity == "error"),
        "rules_warned": sum(1 for r in failing if r.rule.severity == "warn"),
        "failing_rows": sum(r.failing_rows or 0 for r in failing),
    }


def _resolver(mesh: Mesh, product: Product, reader: PortReader):
    """Where a foreign key's target is read: a sibling's table in our own warehouse, else a port."""

    def resolve(key: str) -> str:
        target = mesh.products.get(key)
        if target is not None and target.domain == product.domain:
            return quote(table_name(target))
        return reader.resolve(key).sql()

    return resolve


def _validate_and_publish(
    context: dg.AssetCheckExecutionContext, mesh: Mesh, product: Product
) -> tuple[dg.AssetCheckResult, publish.PublishOutcome, list[ResolvedPort]]:
    """The gate's result, what was validated and published, and the ports the rules read."""
    run_id = context.run.run_id
    # A commit of this domain that a dead process left half done is finished first: the row-count guard
    # compares with `latest`, and a new commit must not be overtaken by an old one.
    domain_publish.settle(product.domain)
    with warehouse.connect(product.domain) as con:
        reader = PortReader(mesh, product, con, run_id=run_id)
        try:
            resolver = _resolver(mesh, product, reader)
            outcome = publish.publish(con, product, table_name(product), run_id, resolver, stage=True)
        except ContractViolation as exc:
            context.log.error(str(exc))
            failed = exc.outcome if isinstance(exc.outcome, publish.PublishOutcome) else None
            failed = failed or publish.PublishOutcome(reports=[], manifests=[])
            result = dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=str(exc)[:4000],
                metadata={**report_metadata(failed.reports), "published": "nothing"},
            )
            return result, failed, reader.reads
    for report in outcome.reports:
        for warning in (r for r in report.failures if not r.blocks):
            context.log.warning(f"{report.port}: {warning.describe()}")
    manifests = outcome.manifests
    built_by = manifests[0].built_by_run if manifests else None
    if built_by and built_by != run_id:
        context.log.warning(f"{product.key}: the published table was built by run {built_by}, not this run")
    published = run_publish.finish(context, mesh, product, manifests)
    # Failed `warn` rules do not fail the gate: the data is published and the warnings are in
    # the metadata and the log. (A failed WARN check would still hold back eager consumers.)
    result = dg.AssetCheckResult(
        passed=True,
        metadata={
            **report_metadata(outcome.reports),
            **published,
            "dagster/row_count": manifests[0].row_count if manifests else 0,
        },
    )
    return result, outcome, reader.reads


def contract_gate(mesh: Mesh, product: Product) -> dg.AssetChecksDefinition:
    ports = ", ".join(p.ref for p in product.ports)

    @dg.asset_check(
        asset=specs.asset_key(product.key),
        name=specs.CONTRACT_CHECK,
        blocking=True,
        description=f"Validates the data against the contract of {ports} in DuckDB, then publishes.",
        pool=warehouse.pool(product.domain),
    )
    @specs.signed
    def _gate(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        try:
            result, outcome, reads = _validate_and_publish(context, mesh, product)
        except BaseException as exc:
            run_lineage.gate_failed(context, mesh, product, exc, [])
            run_publish.abandon(context, product)
            raise
        if not result.passed:
            run_publish.abandon(context, product)
            error = result.description or "the contract gate failed"
            run_lineage.gate_failed(context, mesh, product, error, outcome.reports)
        else:
            run_lineage.published(context, mesh, product, outcome.manifests, outcome.reports, reads)
        return result

    return _gate
