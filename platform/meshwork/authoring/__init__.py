"""Self-serve authoring: `mesh new domain|product` (``scaffold``, ``templates``), `mesh onboard dbt`
(``onboard``, ``external_dbt``), registration in the project's shared files, changesets staged and
validated before anything is written, and `mesh contracts diff`.

Imports: ``governance`` and below (it validates with the same ``validate_project`` as `mesh check`
and opens access requests); independent of ``catalog``. No Dagster.
"""
