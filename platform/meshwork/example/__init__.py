"""The example e-commerce company that ships with Meshwork: a deterministic generator of its
operational source files (``sources``), used by `mesh generate` and `mesh build`.

Imports: ``storage`` and below. No Dagster.
"""
