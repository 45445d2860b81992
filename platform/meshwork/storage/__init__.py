"""Where data lives: each domain's private DuckDB warehouse, the landing zone of source files, the
mesh's dbt project on disk (parse and manifest), and output-port snapshots with the stores that hold
them (``port_store`` is the interface; ``local_store`` and ``s3_store`` implement it; ``stores``
picks one from the settings; ``port_cache`` verifies object-store files locally).

Imports: ``model`` and ``core``. A new port store (another object store, a table format) goes here,
as one module implementing :class:`meshwork.storage.port_store.PortStore`.
"""
