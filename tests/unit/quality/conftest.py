"""The quality tests' shared set-up.

The validator imports its pandera runner only when a contract has a Python check (pandera and ibis
take seconds to import). Importing it here, at collection, makes no difference to a normal run (the
Python-check tests import it anyway) but lets `make mutate` fork each mutant's tests from a server
that already holds it, instead of paying those seconds once per mutant.
"""

from __future__ import annotations

import meshwork.quality.pandera_checks  # noqa: F401 (imported for the mutation run's fork server)
