"""Reads and publishes through the control plane.

A read: the caller's identity must be the consumer's domain; the input must be declared in the
consumer's descriptor (as the service loaded it); a restricted port needs a live grant, a private one
is the producer's own. The answer names the snapshot's files (the masked variant unless the grant
clears PII) with the sha256 the service recorded at commit, and credentials that can GET exactly
those files until the TTL passes. Every read and every refusal is audited.

A publish: the producing domain has written a complete snapshot under its own prefix; the service
verifies every file against the manifest, writes the masked variant with its own key, points
``latest`` at the snapshot and records the publication.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshwork.core import settings
from meshwork.model.descriptors import Visibility
from meshwork.ports import masking
from meshwork.service import access, audit_table, meshmodel, vends
from meshwork.service.errors import Forbidden, NotFound, ServiceRefusal
from meshwork.service.state import Identity, Publication
from meshwork.storage import snapshots


def _refuse(s: Session, who: Identity, reason: str, **fields) -> Forbidden:
    audit_table.record(s, "port.read.refused", actor=who.name, reason=reason, **fields)
    s.commit()
    return Forbidden(reason)


def read(s: Session, who: Identity, consumer_key: str, input_key: str, run_id: str | None) -> dict:
    mesh = meshmodel.current()
    consumer = mesh.products.get(consumer_key)
    fields = {"consumer": consumer_key, "port": input_key, "run_id": run_id}
    if consumer is None:
        raise _refuse(s, who, f"unknown consumer product '{consumer_key}'", **fields)
    if who.kind != "domain" or who.name != consumer.domain:
        raise _refuse(s, who, f"{who.kind} '{who.name}' cannot read on behalf of {consumer_key}", **fields)
    declared = next((i for i in consumer.inputs if i.product == input_key), None)
    if declared is None:
        raise _refuse(s, who, f"{consumer_key} does not declare '{input_key}' in inputPorts", **fields)
    fields["port"] = declared.ref
    producer = mesh.products.get(declared.product)
    port = producer.port(declared.major) if producer else None
    if producer is None or port is None:
        raise NotFound(f"{consumer_key} reads {declared.ref}, which does not exist")
    cross_domain = producer.domain != consumer.domain
    grant = access.live_grant(s, consumer_key, port) if cross_domain else None
    if cross_domain and port.visibility == Visibility.PRIVATE:
        raise _refuse(s, who, f"{declared.ref} is private to domain '{producer.domain}'", **fields)
    if cross_domain and port.visibility == Visibility.RESTRICTED and grant is None:
        raise _refuse(s, who, f"{declared.ref} is restricted and {consumer_key} holds no live grant", **fields)
    publication = s.scalars(
        select(Publication).where(Publication.port == declared.ref).order_by(Publication.id.desc())
    ).first()
    if publication is None:
        raise NotFound(f"{declared.ref} has no published snapshot yet; build {producer.domain} first")
    cleared = not cross_domain or (grant is not None and grant.pii)
    masked = not cleared and masking.needs_masking(port.contract)
    files = publication.masked_files if masked else publication.clear_files
    if files is None:
        raise ServiceRefusal(f"{declared.ref} snapshot {publication.snapshot_id} has no masked variant")
    base = f"{snapshots.version_key(producer.domain, producer.name, declared.major)}/{publication.snapshot_id}"
    keys = [f"{base}/{f['path']}" for f in files]
    record, credentials = vends.vend(s, consumer_key, declared.ref, publication.snapshot_id, keys)
    audit_table.record(
        s, "port.read", actor=who.name, snapshot=publication.snapshot_id, masked=masked, vend=record.id, **fields
    )
    s.commit()
    store = vends.storage()
    return {
        "port": declared.ref,
        "snapshot_id": publication.snapshot_id,
        "masked": masked,
        "manifest": publication.manifest,
        "bucket": store.bucket,
        "endpoint_url": settings.s3_endpoint_url(),
        "region": settings.s3_region(),
        "files": [{**f, "key": store.prefix + key} for f, key in zip(files, keys, strict=True)],
        "credentials": credentials,
        "expires_at": record.expires_at,
    }


def commit(s: Session, who: Identity, product_key: str, major: int, snapshot_id: str, run_id: str | None) -> dict:
    mesh = meshmodel.current()
    product = mesh.products.get(product_key)
    port = product.port(int(major)) if product else None
    if product is None or port is None:
        raise NotFound(f"unknown port {product_key}@v{major}")
    fields = {"port": port.ref, "snapshot": snapshot_id, "run_id": run_id}
    if who.kind != "domain" or who.name != product.domain:
        audit_table.record(s, "port.publish.refused", actor=who.name, reason="not the producing domain", **fields)
        s.commit()
        raise Forbidden(f"{who.kind} '{who.name}' cannot publish {port.ref}: only domain '{product.domain}' can")
    try:
        manifest = snapshots.read_manifest(product.domain, product.name, int(major), snapshot_id)
    except (FileNotFoundError, ValueError) as exc:
        raise NotFound(f"{port.ref}: no complete snapshot '{snapshot_id}': {exc}") from exc
    files, problems = snapshots.readable_files(manifest)
    if problems:
        raise ServiceRefusal(f"{port.ref} snapshot {snapshot_id} is damaged: {'; '.join(problems)}")
    if masking.needs_masking(port.contract):
        manifest = _write_masked(manifest, files, port.contract)
    version = snapshots.version_key(product.domain, product.name, int(major))
    snapshots.point_latest(version, snapshot_id)
    clear = [f.model_dump() for f in manifest.files]
    masked = [f.model_dump() for f in manifest.masked] if manifest.masked is not None else None
    s.add(
        Publication(
            port=port.ref,
            snapshot_id=snapshot_id,
            clear_files=clear,
            masked_files=masked,
            manifest=manifest.model_dump(mode="json"),
            committed_by=who.name,
        )
    )
    audit_table.record(s, "port.publish", actor=who.name, rows=manifest.row_count, masked=masked is not None, **fields)
    s.commit()
    return {"port": port.ref, "snapshot_id": snapshot_id, "masked_variant": masked is not None}


_FILE_SIZE = "FILE_SIZE_BYTES '256MB'"


def _write_masked(manifest: snapshots.Manifest, files: list[Path], contract) -> snapshots.Manifest:
    out = Path(tempfile.mkdtemp(prefix="mesh-mask-"))
    try:
        query = masking.masked_select(contract, f"read_parquet({snapshots.sql_file_list(files)})", masking_key())
        with duckdb.connect() as con:
            con.execute(f"SET threads = {settings.duckdb_threads()}")
            con.execute(f"COPY ({query}) TO '{out / 'masked'}' (FORMAT parquet, COMPRESSION zstd, {_FILE_SIZE})")
        written = sorted((out / "masked").glob("*.parquet"))
        if not written:  # an empty snapshot: an empty masked file with the same columns
            with duckdb.connect() as con:
                con.execute(f"COPY ({query} LIMIT 0) TO '{out / 'empty.parquet'}' (FORMAT parquet)")
            written = [out / "empty.parquet"]
        return snapshots.attach_masked(manifest, written)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def masking_key() -> str:
    """The service's own pseudonymisation key, beside its other secrets; no domain pod mounts that folder."""
    return masking.masking_key(settings.service_dir() / "masking.key")
