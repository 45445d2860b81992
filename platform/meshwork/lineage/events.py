"""OpenLineage run events for every product materialization.

One OpenLineage run per product per Dagster run: START when the product's step begins, then FAIL
(the step or the contract gate failed) or COMPLETE (the gate passed and published). The job is
``meshwork.<domain>`` / ``<product>``; inputs are the port snapshots read (and the landing files of
source-aligned products); outputs are the port versions, with the published snapshot as dataset
version. Datasets are named by the spec's naming table (``naming``). The contract gate is a child
run of the product's (``<product>.contract``) whose input is the port version it checked, carrying
the ``dataQualityAssertions`` input facet. Delivery is ``meshwork.lineage.delivery``'s business:
building an event touches no network.
"""

from __future__ import annotations

import functools
import importlib.metadata
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    JobFacet,
    column_lineage_dataset,
    dataset_version_dataset,
    datasource_dataset,
    documentation_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    ownership_dataset,
    ownership_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    sql_job,
)

from meshwork.lineage import naming
from meshwork.lineage.column_lineage import ColumnOrigin, InputColumn, Relation
from meshwork.model.mesh import Mesh, Product
from meshwork.storage import snapshots

# Where Meshwork's published sources live; it names the producer and the custom facet's schema.
PROJECT_URL = "https://github.com/meshwork/meshwork"
VERSION = importlib.metadata.version("meshwork")
PRODUCER = f"{PROJECT_URL}/tree/v{VERSION}/platform/meshwork"
PRODUCT_FACET_SCHEMA = f"{PROJECT_URL}/blob/v{VERSION}/platform/meshwork/lineage/schemas/MeshworkProductJobFacet.json"
# Fixed namespace for uuid5: the asset step and the gate step derive the same run id independently.
_RUN_NAMESPACE = uuid.UUID("5b0a4c1e-8f0d-4d7e-9a57-6d1f0b2c3e4a")


@attr.define
class MeshworkProductJobFacet(JobFacet):
    """What Meshwork knows about the job: the data product it materializes."""

    domain: str
    product: str
    productKind: str  # noqa: N815 (OpenLineage facets are camelCase)
    implementation: str
    portVersion: str  # noqa: N815
    portVersions: list[str] = attr.field(factory=list)  # noqa: N815
    owner: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return f"{PRODUCT_FACET_SCHEMA}#/$defs/MeshworkProductJobFacet"


@dataclass(frozen=True)
class PortRead:
    """An input port read by the run (``sales/orders@v1``), with the snapshot when known."""

    ref: str
    snapshot_id: str | None = None

    @property
    def domain(self) -> str:
        return self.ref.split("/")[0]

    @property
    def product(self) -> str:
        return self.ref.split("/")[1].split("@")[0]

    @property
    def major(self) -> int:
        return int(self.ref.rsplit("@v", 1)[1])


@dataclass(frozen=True)
class RunInfo:
    """The Dagster run a product materialization belongs to."""

    dagster_run_id: str
    job_name: str
    engine: str  # dbt | python


def job_namespace(domain: str) -> str:
    return f"meshwork.{domain}"


def run_id(dagster_run_id: str, product_key: str) -> str:
    return str(uuid.uuid5(_RUN_NAMESPACE, f"{dagster_run_id}/{product_key}"))


def dataset_of(relation: Relation) -> tuple[str, str]:
    """(namespace, name) of a column-lineage relation (``sales/orders/v1`` or ``shop/orders``)."""
    if relation.kind == "port":
        domain, product, version = relation.name.split("/")
        return naming.port(domain, product, int(version.removeprefix("v")))
    system, table = relation.name.split("/")
    return naming.source(system, table)


def now() -> str:
    return datetime.now(UTC).isoformat()


def _owner_name(product: Product) -> str:
    return f"team:{product.owner.team}"


def _job(product: Product, info: RunInfo, sql: str | None) -> Job:
    description = product.descriptor.description
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="MESHWORK", jobType="DATA_PRODUCT", producer=PRODUCER
        ),
        "documentation": documentation_job.DocumentationJobFacet(description=description.purpose, producer=PRODUCER),
        "ownership": ownership_job.OwnershipJobFacet(
            owners=[ownership_job.Owner(name=_owner_name(product), type="team")], producer=PRODUCER
        ),
        "meshwork": MeshworkProductJobFacet(
            domain=product.domain,
            product=product.name,
            productKind=product.descriptor.product_kind.value,
            implementation=info.engine,
            portVersion=product.current_port.version,
            portVersions=[p.version for p in product.ports],
            owner=product.owner.team,
            producer=PRODUCER,
        ),
    }
    if sql:
        facets["sql"] = sql_job.SQLJobFacet(query=sql, dialect="duckdb", producer=PRODUCER)
    return Job(namespace=job_namespace(product.domain), name=product.name, facets=facets)


@functools.cache
def dagster_version() -> str:
    return importlib.metadata.version("dagster")


def _run(product: Product, info: RunInfo, error: BaseException | str | None = None) -> Run:
    facets: dict[str, Any] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=info.dagster_run_id),
            job=parent_run.Job(namespace=job_namespace(product.domain), name=info.job_name),
            producer=PRODUCER,
        ),
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=dagster_version(),
            name="Dagster",
            openlineageAdapterVersion=VERSION,
            producer=PRODUCER,
        ),
    }
    if error is not None:
        stack = "".join(traceback.format_exception(error))[-8000:] if isinstance(error, BaseException) else None
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=str(error)[:4000], programmingLanguage="python", stackTrace=stack, producer=PRODUCER
        )
    return Run(runId=run_id(info.dagster_run_id, product.key), facets=facets)


def _schema_facet(columns: Iterable[tuple[str, str, str | None]]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name=n, type=t, description=d, ordinal_position=i)
            for i, (n, t, d) in enumerate(columns, start=1)
        ],
        producer=PRODUCER,
    )


def port_facets(mesh: Mesh, domain: str, product: str, major: int, snapshot: str | None) -> dict[str, Any]:
    producer = mesh.products.get(f"{domain}/{product}")
    port = producer.port(major) if producer else None
    namespace, name = naming.port(domain, product, major)
    facets: dict[str, Any] = {
        "dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=namespace, uri=naming.uri(namespace, name), producer=PRODUCER
        )
    }
    manifest = None
    if snapshot:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=snapshot, producer=PRODUCER
        )
        try:
            manifest = snapshots.read_manifest(domain, product, major, snapshot)
        except (OSError, ValueError):  # retention may have removed it since: the contract still has the schema
            manifest = None
    described = {c.name: c.description for c in port.contract.columns} if port else {}
    if manifest is not None:
        facets["schema"] = _schema_facet((c.name, c.type, described.get(c.name)) for c in manifest.columns)
    elif port is not None:
        facets["schema"] = _schema_facet((c.name, c.physical_type, c.description) for c in port.contract.columns)
    if producer is not None:
        facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
            description=producer.descriptor.description.purpose, producer=PRODUCER
        )
        facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=_owner_name(producer), type="team")], producer=PRODUCER
        )
    return facets


def _inputs(mesh: Mesh, product: Product, reads: Iterable[PortRead]) -> list[InputDataset]:
    seen: dict[tuple[str, str, int], PortRead] = {}
    for read in reads:
        key = (read.domain, read.product, read.major)
        if key not in seen or read.snapshot_id:
            seen[key] = read
    for declared in product.inputs:  # declared but not read (yet, at START)
        seen.setdefault((declared.domain, declared.name, declared.major), PortRead(declared.ref))
    datasets = [
        InputDataset(*naming.port(d, p, m), facets=port_facets(mesh, d, p, m, read.snapshot_id))
        for (d, p, m), read in sorted(seen.items())
    ]
    for source in product.descriptor.sources:
        namespace, name = naming.source(source.system, source.table)
        facets: dict[str, Any] = {
            "dataSource": datasource_dataset.DatasourceDatasetFacet(
                name=namespace, uri=naming.uri(namespace, name), producer=PRODUCER
            )
        }
        if source.columns:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=c) for c in source.columns], producer=PRODUCER
            )
        datasets.append(InputDataset(namespace=namespace, name=name, facets=facets))
    return datasets


def _input_field(source: InputColumn, type_: str, subtype: str) -> column_lineage_dataset.InputField:
    namespace, name = dataset_of(source.relation)
    return column_lineage_dataset.InputField(
        namespace=namespace,
        name=name,
        field=source.column,
        transformations=[column_lineage_dataset.Transformation(type=type_, subtype=subtype)],
    )


def _column_lineage(
    origins: Mapping[str, ColumnOrigin], dataset: Iterable[tuple[InputColumn, str]] = ()
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    fields = {
        column: column_lineage_dataset.Fields(
            inputFields=[_input_field(i, "DIRECT", origin.subtype) for i in origin.inputs]
            + [_input_field(i, "INDIRECT", how) for i, how in origin.indirect]
        )
        for column, origin in origins.items()
    }
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields=fields, dataset=[_input_field(i, "INDIRECT", how) for i, how in dataset], producer=PRODUCER
    )


def _outputs(
    mesh: Mesh,
    product: Product,
    manifests: list[snapshots.Manifest] | None = None,
    columns: Mapping[str, ColumnOrigin] | None = None,
    rows: Iterable[tuple[InputColumn, str]] = (),
) -> list[OutputDataset]:
    published = {m.version: m for m in manifests or []}
    outputs = []
    for port in product.ports:
        manifest = published.get(port.version)
        facets = port_facets(mesh, product.domain, product.name, port.major, manifest.snapshot_id if manifest else None)
        # The SQL describes the newest major; older majors are views over it with their own mapping.
        if columns and port is product.current_port:
            facets["columnLineage"] = _column_lineage(columns, rows)
        output_facets: dict[str, Any] = {}
        if manifest is not None:
            output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=manifest.row_count,
                size=sum(f.bytes for f in manifest.files),
                fileCount=len(manifest.files),
                producer=PRODUCER,
            )
        outputs.append(
            OutputDataset(
                *naming.port(product.domain, product.name, port.major), facets=facets, outputFacets=output_facets
            )
        )
    return outputs


def start_event(mesh: Mesh, product: Product, info: RunInfo, reads: Iterable[PortRead] = ()) -> RunEvent:
    return RunEvent(
        eventType=RunState.START,
        eventTime=now(),
        run=_run(product, info),
        job=_job(product, info, None),
        inputs=_inputs(mesh, product, reads),
        outputs=_outputs(mesh, product),
        producer=PRODUCER,
    )


def complete_event(
    mesh: Mesh,
    product: Product,
    info: RunInfo,
    reads: Iterable[PortRead],
    manifests: list[snapshots.Manifest],
    columns: Mapping[str, ColumnOrigin] | None = None,
    sql: str | None = None,
    rows: Iterable[tuple[InputColumn, str]] = (),
) -> RunEvent:
    """``columns``: per output column its inputs; ``rows``: the input columns that decide which rows exist."""
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=now(),
        run=_run(product, info),
        job=_job(product, info, sql),
        inputs=_inputs(mesh, product, reads),
        outputs=_outputs(mesh, product, manifests, columns, rows),
        producer=PRODUCER,
    )


def fail_event(
    mesh: Mesh,
    product: Product,
    info: RunInfo,
    error: BaseException | str,
    reads: Iterable[PortRead] = (),
) -> RunEvent:
    return RunEvent(
        eventType=RunState.FAIL,
        eventTime=now(),
        run=_run(product, info, error),
        job=_job(product, info, None),
        inputs=_inputs(mesh, product, reads),
        outputs=_outputs(mesh, product),
        producer=PRODUCER,
    )
