"""The mesh model: what a domain team declares and what it means. Product and domain descriptors
(ODPS), contracts (ODCS) and the rules compiled from them, contract compatibility, the
classification vocabulary, the grant store, and the mesh graph with its loader (``load_mesh``), which
checks the whole graph before anything runs.

Imports: ``core`` only. No storage, no DuckDB files, no Dagster: a new kind of declaration or a new
check over the declarations goes here.
"""
