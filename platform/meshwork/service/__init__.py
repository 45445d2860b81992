"""The control plane (``mesh serve``): the one trusted service of the enforced mode.

It alone holds the credentials that read every port, the masking key and the audit signing key.
Domain runs and people authenticate to it with tokens it issues (:mod:`.identities`); it decides
access requests under the ownership rules (:mod:`.control`), vends short-lived storage credentials
scoped to exactly one snapshot (:mod:`.vending`), commits publishes (writing the masked variant and
``latest``), and keeps the audit log in its own database, hash-chained with signed checkpoints
(:mod:`.audit_table`). State lives in SQLAlchemy (:mod:`.state`): SQLite by default, PostgreSQL in
production. :mod:`.app` is the Starlette application served by uvicorn.

Imports: meshwork.governance, meshwork.ports, meshwork.storage, meshwork.model, meshwork.core; never
meshwork.runtime (no Dagster in the service).
"""
