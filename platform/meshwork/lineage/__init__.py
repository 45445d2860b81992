"""OpenLineage: the events of a product run (``events``), their delivery that never blocks or fails a
run (``delivery``), column lineage from dbt's compiled SQL (``column_lineage``) and a product's
lineage across domains (``graph``, `mesh lineage`). The custom facet's JSON schema is in ``schemas/``.

Imports: ``ports`` and below; independent of ``governance``. No Dagster: the runtime calls in.
"""
