"""Governance at runtime: the platform location's sensors for the ``governance``, ``sla`` and
``grants`` checks of every product.

The checks are declared by each domain's code location on its own products
(:mod:`meshwork.runtime.governance_checks`); these sensors evaluate them for the whole mesh on an
interval and record the results as asset check evaluations by check key, so they show on each
product's page in the Dagster UI next to its contract check. New findings, and findings that went
away, are sent to the owning team through :mod:`meshwork.governance.notify`; the sensor cursor
remembers what was already said, and since when, to escalate errors left open (:mod:`meshwork.governance.escalation`).
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import dagster as dg

from meshwork.core import settings
from meshwork.core.errors import MeshDefinitionError
from meshwork.governance import escalation, notify
from meshwork.governance.notify import Notice
from meshwork.model.mesh import Mesh
from meshwork.runtime.governance_checks import CHECKS, Evaluation, GraphLoader, evaluations_for, load


def _graph(mesh: Mesh) -> GraphLoader:
    def loader():
        # Deferred: the domains' definitions import the whole runtime (OpenLineage, dbt glue), ~0.7 s of
        # the platform location's start; only a sensor evaluating the policies needs them.
        from meshwork.locations.domain import asset_graph

        return asset_graph(mesh)

    return loader


def changes(
    evaluations: Iterable[Evaluation],
    cursor: str | None,
    now: datetime | None = None,
    contacts: Mapping[str, escalation.Contact] | None = None,
) -> tuple[list[Notice], str]:
    """Notices that are new since the cursor, escalations of errors left open too long, and 'resolved'
    ones for what went away (:mod:`meshwork.governance.escalation`)."""
    notices = [n for ev in evaluations for n in ev.notices]
    return escalation.track(notices, cursor, now or datetime.now(UTC), contacts)


def _sensor(check: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{check}_sensor",
        minimum_interval_seconds=settings.governance_interval(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Records the '{check}' check of every product and notifies the owning teams of changes.",
    )
    def _watch(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        try:
            mesh = load()
        except MeshDefinitionError as exc:  # `mesh check` and the domain locations say the same, louder
            return dg.SkipReason(f"the mesh does not load: {exc}")
        evaluations = evaluations_for(check, mesh, asset_graph=_graph(mesh))
        notices, cursor = changes(evaluations, context.cursor, contacts=escalation.contacts(mesh))
        delivery = notify.deliver(notices)
        if delivery.error:
            context.log.warning(
                f"notifier unreachable, {delivery.queued} notice(s) kept in the outbox: {delivery.error}"
            )
        return dg.SensorResult(asset_events=[e.to_event() for e in evaluations], cursor=cursor)

    return _watch


def governance_definitions(mesh: Mesh | None = None) -> dg.Definitions:
    """The three sensors. The checks themselves are declared by each domain's location (a check
    declared here, on another location's asset, broke every Materialize in the UI)."""
    return dg.Definitions(sensors=[_sensor(c) for c in CHECKS])
