"""Validate a product's warehouse table against each output port's contract, then publish it.

Every port is validated before any is written: a product whose data breaks one of its contracts
publishes nothing, and every port keeps its previous ``latest`` snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from meshwork.core import settings
from meshwork.core.errors import ContractViolation, PublishError
from meshwork.core.names import quote
from meshwork.model import rules
from meshwork.model.mesh import Port, Product
from meshwork.ports import masking, row_guard, service_client
from meshwork.quality import validator
from meshwork.storage import snapshots, warehouse


@dataclass
class PublishOutcome:
    reports: list[validator.QualityReport]
    manifests: list[snapshots.Manifest]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports)


def port_view(con: duckdb.DuckDBPyConnection, product: Product, port: Port, table: str) -> str:
    """A temporary view with exactly the port's columns, computed from the product's table.

    The newest major usually maps one to one; an older major kept alive beside it names an
    expression per renamed or retyped column in its descriptor (``outputPorts[].columns``).
    """
    view = f"{table}__v{port.major}"
    present = {r[0] for r in con.execute(f"DESCRIBE {quote(table)}").fetchall()}
    # A contract column the table lacks is left out, so validation reports it as missing by name.
    select = ", ".join(
        f"{port.spec.columns.get(c.name, quote(c.name))} AS {quote(c.name)}"
        for c in port.contract.columns
        if c.name in port.spec.columns or c.name in present
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(view)} AS SELECT {select} FROM {quote(table)}")
    return view


def live_ports(product: Product, today: date | None = None) -> list[Port]:
    """Ports still published: a major past its removal date is no longer written."""
    today = today or date.today()
    return [p for p in product.ports if not p.spec.is_removed(today)]


def validate(
    con: duckdb.DuckDBPyConnection, product: Product, table: str, resolve_port: validator.PortResolver | None = None
) -> list[validator.QualityReport]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
        [table],
    ).fetchone()
    if not exists or exists[0] == 0:
        raise PublishError(f"{product.key}: the warehouse has no table {quote(table)} to publish")
    reports = []
    for port in live_ports(product):
        port_rules, problems = rules.compile_rules(port.contract, product.key)
        if problems:  # caught at load; a contract edited under a running location still cannot pass
            raise PublishError("\n".join(str(p) for p in problems))
        try:
            view = port_view(con, product, port, table)
            checker = validator.Validator(con, view, port.contract, port.ref, resolve_port, domain=product.domain)
        except duckdb.Error as exc:  # a mapped column whose expression no longer fits the table
            raise ContractViolation(f"{product.key}: cannot shape {port.ref} from the table: {exc}") from exc
        reports.append(checker.run(port_rules))
    return reports


def publish(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    table: str,
    run_id: str | None,
    resolve_port: validator.PortResolver | None = None,
    stage: bool = False,
) -> PublishOutcome:
    """Validate then publish every live port; raise :class:`ContractViolation` (publishing nothing) on errors.

    ``stage`` writes the snapshots but leaves every ``latest`` alone: the gate of a domain run publishes
    the run's staged snapshots together (:mod:`meshwork.ports.domain_publish`).

    Beyond the contract's rules each port passes the row-count guard (:mod:`meshwork.ports.row_guard`),
    which compares with the port's previous snapshot: what a publish does, not what a test on sample rows does.
    """
    reports = validate(con, product, table, resolve_port)
    for port, report in zip(live_ports(product), reports, strict=True):
        report.results.append(row_guard.check(port, report.row_count))
    outcome = PublishOutcome(reports=reports, manifests=[])
    if not outcome.passed:
        raise ContractViolation(
            f"{product.key} was not published: its data breaks its contract\n"
            + "\n".join(r.describe() for r in reports if not r.passed),
            outcome,
        )
    built_by = warehouse.last_build(con, table)
    enforced = settings.service_url() is not None
    for port in live_ports(product):
        view = f"{table}__v{port.major}"
        # Local: the publisher writes the masked variant itself. Enforced: only the control plane holds
        # the masking key, so it writes the variant (and `latest`) when it commits the snapshot.
        masked_query = (
            masking.masked_select(port.contract, quote(view))
            if not enforced and masking.needs_masking(port.contract)
            else None
        )
        outcome.manifests.append(
            snapshots.write_snapshot(
                con,
                domain=product.domain,
                product=product.name,
                major=port.major,
                table=view,
                columns=[c.name for c in port.contract.columns],
                contract_id=port.contract.id,
                contract_version=port.contract.version,
                contract_text=port.contract.path.read_text(encoding="utf-8"),
                run_id=run_id,
                built_by_run=built_by,
                masked_query=masked_query,
                commit_latest=_staged
                if stage
                else _commit_through_service(product, port.major, run_id)
                if enforced
                else None,
            )
        )
    return outcome


def _staged(_version: str, _snapshot_id: str) -> None:
    """No pointer switch: the snapshot waits for its run's domain commit."""


def _commit_through_service(product: Product, major: int, run_id: str | None):
    def commit(_version: str, snapshot_id: str) -> None:
        service_client.commit(product.key, major, snapshot_id, run_id)

    return commit
