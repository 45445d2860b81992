"""The quality tests' shared set-up.

The validator imports its pandera runner only when a contract has a Python check (pandera and ibis
take seconds to import). Importing it here, at collection, lets `make mutate` fork each mutant's tests
from a server that already holds it, instead of paying those seconds once per mutant. A run of the
whole folder pays them once either way (its Python-check tests import it); a run of a few files that
need no pandera pays them too.
"""

from __future__ import annotations

import meshwork.quality.pandera_checks  # noqa: F401 (imported for the mutation run's fork server)
