"""Federated computational governance, without Dagster: policies as code (global and per domain),
project validation (the `mesh check` gate), the access-request flow, erasure, retention and notices
to owning teams.

Imports: ``ports`` and below; independent of ``lineage``. A new global policy goes in
``global_policies``; a domain's own policies live in ``domains/<domain>/policies.py``. Callers that
can build the Dagster asset graph hand it in (``find_violations(mesh, asset_graph)``).
"""
