"""OpenLineage dataset names for the files Meshwork reads and writes, from the spec's naming table.

A port version is the folder of its snapshots: on the local store the namespace is ``file`` and the
name its absolute path; on S3 the namespace is ``s3://<bucket>`` and the name the key prefix. Landing
files are named the same way. Any other producer that reads or writes the same files (Spark, dbt's
OpenLineage wrapper, a notebook) then names the same dataset, so the graphs stitch. The naming
classes are the OpenLineage client's own (``openlineage.client.naming.dataset``).
"""

from __future__ import annotations

from pathlib import Path

from openlineage.client.naming.dataset import S3, DatasetNaming, LocalFileSystem

from meshwork.core import settings
from meshwork.storage import snapshots


def _named(naming: DatasetNaming) -> tuple[str, str]:
    return naming.get_namespace(), naming.get_name()


def _local(path: Path) -> tuple[str, str]:
    return _named(LocalFileSystem(path=str(path.resolve())))


def port(domain: str, product: str, major: int) -> tuple[str, str]:
    """(namespace, name) of a port version's folder in the store ``MESH_PORTS_URL`` names."""
    key = snapshots.version_key(domain, product, major)
    url = settings.ports_url()
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        return _named(S3(bucket_name=bucket, object_key=f"{prefix}/{key}" if prefix else key))
    return _local(settings.ports_dir() / key)


def source(system: str, table: str) -> tuple[str, str]:
    """(namespace, name) of a landing folder (the files an operational system exports)."""
    return _local(settings.sources_dir() / system / table)


def uri(namespace: str, name: str) -> str:
    """The dataset's URI (the ``dataSource`` facet's), by the spec's rule: namespace + name."""
    if namespace == "file":
        return Path(name).as_uri()
    return f"{namespace}/{name.lstrip('/')}"
