"""The platform's own code location: governance at runtime (and, beside it, mesh-wide assets)."""

import dagster as dg

from meshwork.governance_sensors import governance_definitions
from meshwork.mesh import load_mesh


@dg.definitions
def defs() -> dg.Definitions:
    # Grants are checked by the `grants` sensor here; a missing one must not hide the whole location.
    return governance_definitions(load_mesh(check_grants=False))
