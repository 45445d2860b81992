"""The publish gate: a blocking asset check that validates a product and, only if it passes, publishes.

A product's asset builds its table in the domain's private warehouse; nobody outside the domain can
see that. This check then runs the output port contracts against the table in the database and
publishes the ports. A failing contract publishes nothing (every port keeps its previous snapshot),
fails the run, and, being blocking, stops downstream products in this run and in automation.
"""

import dagster as dg

from meshwork import publish, specs, warehouse
from meshwork.errors import ContractViolation
from meshwork.mesh import Product


def _findings_md(reports: list) -> dg.MetadataValue:
    lines = [f"- [{f.severity}] {r.port} — {f.rule}: {f.message}" for r in reports for f in r.findings]
    return dg.MetadataValue.md("\n".join(lines) or "All contract rules passed.")


def table_name(product: Product) -> str:
    return product.descriptor.implementation.model or product.name


def contract_gate(product: Product) -> dg.AssetChecksDefinition:
    ports = ", ".join(p.ref for p in product.ports)

    @dg.asset_check(
        asset=specs.asset_key(product.key),
        name=specs.CONTRACT_CHECK,
        blocking=True,
        description=f"Validates the data against the contract of {ports}, then publishes the port(s).",
        pool=warehouse.pool(product.domain),
    )
    def _gate(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with warehouse.connect(product.domain) as con:
            try:
                outcome = publish.publish(con, product, table_name(product), context.run.run_id)
            except ContractViolation as exc:
                context.log.error(str(exc))
                reports = exc.outcome.reports if isinstance(exc.outcome, publish.PublishOutcome) else []
                return dg.AssetCheckResult(
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=str(exc)[:2000],
                    metadata={"findings": _findings_md(reports), "published": "nothing"},
                )
        manifests = outcome.manifests
        built_by = manifests[0].built_by_run if manifests else None
        if built_by and built_by != context.run.run_id:
            context.log.warning(f"{product.key}: the published table was built by run {built_by}, not this run")
        context.log.info(f"published {', '.join(f'{product.key}@{m.version}/{m.snapshot_id}' for m in manifests)}")
        return dg.AssetCheckResult(
            passed=True,
            metadata={
                "findings": _findings_md(outcome.reports),
                "published": ", ".join(f"{m.version}/{m.snapshot_id}" for m in manifests),
                "dagster/row_count": manifests[0].row_count if manifests else 0,
            },
        )

    return _gate
