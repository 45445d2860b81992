"""Validate a product's warehouse table against each output port's contract, then publish it.

Every port is validated before any is written: a product whose data breaks one of its contracts
publishes nothing, and every port keeps its previous ``latest`` snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from meshwork import ports, quality, rules, warehouse
from meshwork.errors import ContractViolation, PublishError
from meshwork.mesh import Product
from meshwork.names import quote


@dataclass
class PublishOutcome:
    reports: list[quality.QualityReport]
    manifests: list[ports.Manifest]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports)


def validate(
    con: duckdb.DuckDBPyConnection, product: Product, table: str, resolve_port: quality.PortResolver | None = None
) -> list[quality.QualityReport]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
        [table],
    ).fetchone()
    if not exists or exists[0] == 0:
        raise PublishError(f"{product.key}: the warehouse has no table {quote(table)} to publish")
    reports = []
    for port in product.ports:
        port_rules, problems = rules.compile_rules(port.contract, product.key)
        if problems:  # caught at load; a contract edited under a running location still cannot pass
            raise PublishError("\n".join(str(p) for p in problems))
        validator = quality.Validator(con, table, port.contract, port.ref, resolve_port, domain=product.domain)
        reports.append(validator.run(port_rules))
    return reports


def publish(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    table: str,
    run_id: str | None,
    resolve_port: quality.PortResolver | None = None,
) -> PublishOutcome:
    """Validate then publish every port; raise :class:`ContractViolation` (publishing nothing) on errors."""
    reports = validate(con, product, table, resolve_port)
    outcome = PublishOutcome(reports=reports, manifests=[])
    if not outcome.passed:
        raise ContractViolation(
            f"{product.key} was not published: its data breaks its contract\n"
            + "\n".join(r.describe() for r in reports if not r.passed),
            outcome,
        )
    built_by = warehouse.last_build(con, table)
    for port in product.ports:
        outcome.manifests.append(
            ports.write_snapshot(
                con,
                domain=product.domain,
                product=product.name,
                major=port.major,
                table=table,
                columns=[c.name for c in port.contract.columns],
                contract_id=port.contract.id,
                contract_version=port.contract.version,
                run_id=run_id,
                built_by_run=built_by,
            )
        )
    return outcome
