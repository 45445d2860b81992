import dagster as dg

from meshwork.locations.domain import domain_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return domain_definitions("finance")
