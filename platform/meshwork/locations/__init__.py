"""Dagster code locations, the composition roots: ``domain`` turns one domain into its location's
definitions (``domains/<d>/definitions.py`` calls ``domain_definitions``), its products' contract
and runtime checks included; ``platform`` is the platform team's location, with the governance
sensors (``governance_sensors``) and the mesh metrics as assets (``metric_assets``).

Imports: anything below. A new sensor or asset of the platform location goes here.
"""
