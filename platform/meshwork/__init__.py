"""Meshwork: a data mesh platform on Dagster (descriptors, contracts, ports, quality, governance).

The package is layered; each subpackage imports only the layers below it (enforced by import-linter,
``[tool.importlinter]`` in pyproject.toml, run by ``make lint``)::

    cli                              the `mesh` command line; nothing imports it
    locations                        Dagster code locations: a domain's, and the platform's own
    catalog | authoring | example    the catalog and metrics; mesh new / onboard; the example company
    runtime                          the Dagster layer: assets, checks, jobs, runs, the instance
    governance | lineage             policies, access, erasure, retention, notices; OpenLineage
    ports                            publish, read and mask output ports
    storage | quality                warehouses, landing, snapshots, port stores; the validator
    model                            descriptors, contracts, rules, the mesh graph, grants
    core                             settings, names, errors, SQL types, YAML text, the audit log

Nothing below ``runtime`` imports Dagster. Packages on one line do not import each other.
"""
