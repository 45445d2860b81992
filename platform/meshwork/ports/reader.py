"""The port reader: how a consumer's run gets another product's data.

In the local mode (one trusted OS user) it resolves the consumer's declared input to the latest
complete snapshot of the pinned major version, refuses anything undeclared, verifies the snapshot's
files against its manifest, records the read in the audit log, and hands back a DuckDB relation
over the Parquet files inside the consumer's own connection (the producer spends no compute on it).
With ports on object storage the files are local, checksum-verified copies from
:mod:`meshwork.storage.port_cache`. A consumer without clearance gets the snapshot's masked variant,
written at publish time.

In the enforced mode (``MESH_SERVICE_URL``) the reader decides nothing: it asks the control plane,
which checks, audits and vends the files (:mod:`meshwork.ports.service_client`). There the identity
is the run's credential, so building a reader "as" another product changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from meshwork.core import audit, settings
from meshwork.core.errors import PortAccessError
from meshwork.core.names import check_identifier
from meshwork.model.contracts import Contract
from meshwork.model.descriptors import Visibility
from meshwork.model.mesh import Mesh, Product
from meshwork.ports import domain_publish, masking, service_client
from meshwork.storage import snapshots
from meshwork.storage.port_store import Damaged


@dataclass(frozen=True)
class ResolvedPort:
    ref: str
    snapshot_id: str
    manifest: snapshots.Manifest
    files: list[Path]
    masked: bool = False  # the consumer reads masked values
    # Snapshots published before masked variants existed (or rewritten by an erasure) are masked at read.
    masked_with: Contract | None = None

    def sql(self) -> str:
        """A table expression over the snapshot, masked for consumers without PII clearance."""
        files = ", ".join("'" + str(f).replace("'", "''") + "'" for f in self.files)
        scan = f"read_parquet([{files}])"
        return f"({masking.masked_select(self.masked_with, scan)})" if self.masked_with else scan


def port_view_name(domain: str, product: str, major: int) -> tuple[str, str]:
    """(schema, view) under which a consumer's warehouse exposes an input port to dbt."""
    return f"port_{check_identifier(domain)}", f"{check_identifier(product)}_v{int(major)}"


class PortReader:
    def __init__(self, mesh: Mesh, consumer: Product, con: duckdb.DuckDBPyConnection, run_id: str | None = None):
        self.mesh = mesh
        self.consumer = consumer
        self.con = con
        self.run_id = run_id
        self.reads: list[ResolvedPort] = []
        # Snapshots this run staged, by (product key, major): a product reading a port of its own domain
        # reads what its run will publish with it (``meshwork.runtime.run_publish``), not the previous set.
        self.staged: dict[tuple[str, int], str] = {}

    def resolve(self, product_key: str) -> ResolvedPort:
        if (own := self._own_staged(product_key)) is not None:
            return own
        if settings.service_url():
            vended = service_client.read(self.consumer.key, product_key, self.run_id)
            manifest = snapshots.Manifest.model_validate(vended.manifest)
            resolved = ResolvedPort(vended.port, vended.snapshot_id, manifest, vended.files, vended.masked)
            self.reads.append(resolved)
            return resolved
        declared = next((i for i in self.consumer.inputs if i.product == product_key), None)
        if declared is None:
            audit.record(
                "port.read.refused",
                consumer=self.consumer.key,
                port=product_key,
                run_id=self.run_id,
                reason="undeclared input",
            )
            raise PortAccessError(
                f"{self.consumer.key} may not read '{product_key}': it is not declared in inputPorts of "
                f"{self.consumer.path}"
            )
        producer = self.mesh.products.get(declared.product)
        port = producer.port(declared.major) if producer else None
        if producer is None or port is None:
            raise PortAccessError(f"{self.consumer.key} reads {declared.ref}, which does not exist")
        cross_domain = producer.domain != self.consumer.domain
        if cross_domain and (
            port.visibility == Visibility.PRIVATE
            or (port.visibility == Visibility.RESTRICTED and self.mesh.grant_at_read(self.consumer.key, port) is None)
        ):
            audit.record(
                "port.read.refused",
                consumer=self.consumer.key,
                port=declared.ref,
                run_id=self.run_id,
                reason=f"no valid grant on a {port.visibility.value} port",
            )
            raise PortAccessError(
                f"{self.consumer.key} may not read {declared.ref}: the port is {port.visibility.value} "
                "and there is no valid grant for this consumer"
            )
        try:
            domain_publish.settle_for_read(producer.domain)  # a producer's interrupted commit: its whole set
            readable = snapshots.read_latest(producer.domain, producer.name, declared.major)
        except (FileNotFoundError, Damaged) as exc:  # `latest` names no snapshot, or one whose manifest is gone
            raise PortAccessError(f"{declared.ref} is damaged: {exc}") from exc
        if readable is None:
            raise PortAccessError(
                f"{declared.ref} has no published snapshot yet; build {producer.domain} before {self.consumer.domain}"
            )
        snapshot, manifest = readable.snapshot_id, readable.manifest
        # A damaged or tampered file is refused before any consumer sees a row of it.
        if readable.problems:
            raise PortAccessError(f"{declared.ref} snapshot {snapshot} is damaged: {'; '.join(readable.problems)}")
        grant = self.mesh.grant_at_read(self.consumer.key, port) if cross_domain else None
        cleared = not cross_domain or (grant is not None and grant.pii)
        if cleared or not masking.needs_masking(port.contract):
            resolved = ResolvedPort(declared.ref, snapshot, manifest, readable.files)
        elif manifest.masked is not None:
            files, problems = snapshots.readable_files(manifest, masked=True)
            if problems:
                raise PortAccessError(f"{declared.ref} snapshot {snapshot} is damaged: {'; '.join(problems)}")
            resolved = ResolvedPort(declared.ref, snapshot, manifest, files, masked=True)
        else:
            resolved = ResolvedPort(declared.ref, snapshot, manifest, readable.files, True, port.contract)
        audit.record(
            "port.read",
            consumer=self.consumer.key,
            port=declared.ref,
            snapshot=snapshot,
            run_id=self.run_id,
            masked=resolved.masked,
        )
        self.reads.append(resolved)
        return resolved

    def _own_staged(self, product_key: str) -> ResolvedPort | None:
        """A declared input of the consumer's own domain that this run staged (the domain's own files:
        readable with its own storage credentials in either mode, and never masked for itself)."""
        declared = next((i for i in self.consumer.inputs if i.product == product_key), None)
        snapshot = self.staged.get((product_key, declared.major)) if declared else None
        producer = self.mesh.products.get(product_key)
        if declared is None or snapshot is None or producer is None or producer.domain != self.consumer.domain:
            return None
        manifest = snapshots.read_manifest(producer.domain, producer.name, declared.major, snapshot)
        files, problems = snapshots.readable_files(manifest)
        if problems:
            raise PortAccessError(f"{declared.ref} snapshot {snapshot} is damaged: {'; '.join(problems)}")
        audit.record("port.read", consumer=self.consumer.key, port=declared.ref, snapshot=snapshot, run_id=self.run_id)
        resolved = ResolvedPort(declared.ref, snapshot, manifest, files)
        self.reads.append(resolved)
        return resolved

    def relation(self, product_key: str) -> duckdb.DuckDBPyRelation:
        return self.con.sql(f"SELECT * FROM {self.resolve(product_key).sql()}")

    def expose_inputs(self) -> list[ResolvedPort]:
        """Create one view per declared input in the consumer's warehouse (what dbt sources read)."""
        resolved = []
        for port in self.consumer.inputs:
            r = self.resolve(port.product)
            schema, view = port_view_name(port.domain, port.name, port.major)
            self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{view}" AS SELECT * FROM {r.sql()}')
            resolved.append(r)
        return resolved
