"""The contract gate as OpenLineage sees it: a data-quality job reading the port versions it checked.

OpenLineage defines ``dataQualityAssertions`` for input datasets (a check reads the data it asserts
on), so the gate is its own job, ``<product>.contract``, a child run of the product's run, with each
checked port version as an input carrying the facet, as a data-quality tool's events would be.
"""

from __future__ import annotations

from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
from openlineage.client.facet_v2 import data_quality_assertions_dataset, job_type_job, parent_run

from meshwork.lineage import naming
from meshwork.lineage.events import PRODUCER, RunInfo, job_namespace, now, port_facets, run_id
from meshwork.model.mesh import Mesh, Product
from meshwork.quality.validator import QualityReport
from meshwork.storage import snapshots


def assertions(
    reports: list[QualityReport], version: str
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    results = [r for rep in reports if rep.port.endswith(f"@{version}") for r in rep.results]
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(
                assertion=r.rule.kind,
                success=r.passed,
                column=r.rule.column,
                severity=r.rule.severity,
                name=r.rule.id,
                description=r.rule.description,
                actual=None if r.failing_rows is None else f"{r.failing_rows} failing rows",
            )
            for r in results
        ],
        producer=PRODUCER,
    )


def contract_event(
    mesh: Mesh,
    product: Product,
    info: RunInfo,
    reports: list[QualityReport],
    manifests: list[snapshots.Manifest] | None = None,
) -> RunEvent:
    """The gate's run: COMPLETE when every error-level rule passed, else FAIL."""
    published = {m.version: m.snapshot_id for m in manifests or []}
    inputs = [
        InputDataset(
            *naming.port(product.domain, product.name, port.major),
            facets=port_facets(mesh, product.domain, product.name, port.major, published.get(port.version)),
            inputFacets={"dataQualityAssertions": assertions(reports, port.version)},
        )
        for port in product.ports
        if any(rep.port.endswith(f"@{port.version}") for rep in reports)
    ]
    passed = all(r.passed or r.rule.severity != "error" for rep in reports for r in rep.results)
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id(info.dagster_run_id, product.key)),
        job=parent_run.Job(namespace=job_namespace(product.domain), name=product.name),
        producer=PRODUCER,
    )
    return RunEvent(
        eventType=RunState.COMPLETE if passed else RunState.FAIL,
        eventTime=now(),
        run=Run(runId=run_id(info.dagster_run_id, f"{product.key}.contract"), facets={"parent": parent}),
        job=Job(
            namespace=job_namespace(product.domain),
            name=f"{product.name}.contract",
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH", integration="MESHWORK", jobType="DATA_QUALITY", producer=PRODUCER
                )
            },
        ),
        inputs=inputs,
        outputs=[],
        producer=PRODUCER,
    )
