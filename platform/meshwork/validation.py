"""Checks of produced data against its output port's contract, run in the database before publish.

First cut: the schema (every contract column present with its declared type). The contract's
quality rules build on this in ``meshwork.quality``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from meshwork.contracts import Contract
from meshwork.names import quote


@dataclass
class Finding:
    rule: str
    message: str
    severity: str = "error"
    failing_rows: int | None = None


@dataclass
class ValidationReport:
    port: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def describe(self) -> str:
        lines = [f"{self.port}: {'passed' if self.passed else 'FAILED'}"]
        lines += [f"  [{f.severity}] {f.rule}: {f.message}" for f in self.findings]
        return "\n".join(lines)


def canonical_type(con: duckdb.DuckDBPyConnection, physical_type: str) -> str:
    """DuckDB's own spelling of a type (INT -> INTEGER, STRING -> VARCHAR); the type passed SQL_TYPE."""
    row = con.execute(f"SELECT typeof(CAST(NULL AS {physical_type}))").fetchone()
    return str(row[0]) if row else physical_type.upper()


def check_schema(con: duckdb.DuckDBPyConnection, table: str, contract: Contract, port: str) -> ValidationReport:
    report = ValidationReport(port=port)
    actual = {r[0]: r[1] for r in con.execute(f"DESCRIBE {quote(table)}").fetchall()}
    for column in contract.columns:
        if column.name not in actual:
            report.findings.append(
                Finding("column present", f"column '{column.name}' is in the contract but not in the produced data")
            )
            continue
        expected = canonical_type(con, column.physical_type)
        if actual[column.name] != expected:
            report.findings.append(
                Finding(
                    "column type",
                    f"column '{column.name}' is {actual[column.name]}, the contract says {expected}",
                )
            )
    return report
