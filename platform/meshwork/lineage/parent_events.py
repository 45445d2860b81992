"""OpenLineage events of a domain run as a whole: the parent job of its products' runs.

Every product event names its Dagster run as the ``parent`` (namespace ``meshwork.<domain>``, the
Dagster job's name, ``runId`` = the Dagster run id). This module gives that parent its own START and
COMPLETE / FAIL / ABORT, so a lineage backend shows the domain run with its products under it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run, job_type_job, processing_engine_run

from meshwork.lineage.events import PRODUCER, VERSION, dagster_version, job_namespace

STATES = {"START": RunState.START, "COMPLETE": RunState.COMPLETE, "FAIL": RunState.FAIL, "ABORT": RunState.ABORT}


def parent_event(
    state: str, domain: str, job_name: str, dagster_run_id: str, at: datetime | None = None, error: str | None = None
) -> RunEvent:
    """The event of the Dagster run ``dagster_run_id`` of ``domain``'s job ``job_name`` in ``state``."""
    facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=dagster_version(), name="Dagster", openlineageAdapterVersion=VERSION, producer=PRODUCER
        )
    }
    if error:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error[:4000], programmingLanguage="python", producer=PRODUCER
        )
    job_facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="MESHWORK", jobType="JOB", producer=PRODUCER
        )
    }
    return RunEvent(
        eventType=STATES[state],
        eventTime=(at or datetime.now(UTC)).isoformat(),
        run=Run(runId=dagster_run_id, facets=facets),
        job=Job(namespace=job_namespace(domain), name=job_name, facets=job_facets),
        inputs=[],
        outputs=[],
        producer=PRODUCER,
    )
