"""The finance domain's own policies, on top of the global ones."""

from meshwork.governance.policies import GovernanceContext, policy

MONEY_SUFFIXES = ("_revenue", "_amount", "_value")


@policy("money-is-decimal", "Money in floating point drifts by cents: finance reports only exact decimals.")
def money_is_decimal(ctx: GovernanceContext):
    for product in ctx.mesh.domains["finance"].products:
        for port in product.ports:
            for column in port.contract.columns:
                if column.name.endswith(MONEY_SUFFIXES) and not column.physical_type.upper().startswith("DECIMAL"):
                    yield (
                        product.key,
                        f"money column '{column.name}' of {port.ref} is {column.physical_type}, not DECIMAL",
                        port.contract.path,
                    )
