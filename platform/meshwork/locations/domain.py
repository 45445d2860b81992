"""Turn one domain of the mesh into the Dagster definitions of its code location."""

from __future__ import annotations

import logging

import dagster as dg

from meshwork.core.errors import MeshDefinitionError
from meshwork.governance import policies
from meshwork.model.loader import current_mesh, ensure_importable
from meshwork.model.mesh import Mesh
from meshwork.runtime import automation, domain_runs, gate, governance_checks, python_products, specs


def domain_definitions(domain: str, mesh: Mesh | None = None) -> dg.Definitions:
    """Definitions for ``domains/<domain>``: its products as assets, their checks and schedules.

    The location refuses to load, listing every reason, when its own domain is broken (a descriptor,
    contract, input or grant of its products, or an input that does not load, was removed or is not
    granted); a problem elsewhere in the mesh leaves it alone. The domain's own error-severity policy
    violations fail it too.
    """
    mesh = mesh or current_mesh()
    refuse_broken(mesh, domain)
    policies.enforce_at_load(mesh, domain)
    for warning in mesh.warnings():
        if warning.product and warning.product.startswith(f"{domain}/"):
            logging.getLogger("meshwork").warning(str(warning))
    return build_domain_definitions(mesh, domain)


def refuse_broken(mesh: Mesh, domain: str) -> None:
    """Raise with the domain's own problems when it may not load (the Dagster UI shows them as the
    location's load error; `mesh build` and `mesh check` say the same)."""
    if domain in mesh.broken:
        raise MeshDefinitionError(mesh.broken[domain], subject=f"domain '{domain}'")


def build_domain_definitions(mesh: Mesh, domain: str) -> dg.Definitions:
    ensure_importable(mesh.project_dir)
    if domain not in mesh.domains:
        raise ValueError(f"domain '{domain}' is not registered in {mesh.project_dir / 'workspace.yaml'}")
    assets: list[dg.AssetsDefinition] = [
        python_products.product_asset(mesh, p)
        for p in mesh.domains[domain].products
        if p.descriptor.implementation.engine == "python"
    ]
    resources = {}
    if any(p.descriptor.implementation.engine == "dbt" for p in mesh.domains[domain].products):
        # Deferred: dagster-dbt brings dbt's adapters, ~1.4 s of the start of a location without dbt products.
        from meshwork.runtime import dbt_products

        dbt = dbt_products.domain_dbt_assets(mesh, domain)
        if dbt is not None:
            assets.append(dbt)
            resources["dbt"] = dbt_products.dbt_resource()
    schedules = automation.schedules(mesh.domains[domain])
    if (purge := automation.retention_schedule(mesh, mesh.domains[domain])) is not None:
        schedules.append(purge)
    automated = any(specs.automation_condition(mesh, p) for p in mesh.domains[domain].products)
    products = mesh.domains[domain].products
    # The runtime checks live here, on this location's own assets, so the UI's Materialize (asset +
    # every check shown on it) never selects a check another location defines.
    runtime_checks = governance_checks.domain_checks(mesh, domain, lambda: asset_graph(mesh))
    # Policies over the whole asset graph are the platform sensor's to evaluate: a build need not
    # load every domain's definitions; its SLA and grants checks run, so no stale result remains.
    policy_keys = [dg.AssetCheckKey(specs.asset_key(p.key), governance_checks.GOVERNANCE) for p in products]
    return dg.Definitions(
        assets=assets,
        asset_checks=[*(gate.contract_gate(mesh, p) for p in products), *runtime_checks],
        jobs=[domain_runs.build_job(domain, skip_checks=policy_keys)],
        schedules=schedules,
        sensors=[domain_runs.automation_sensor(domain)] if automated else [],
        resources=resources,
        # Steps of one domain share one warehouse that admits a single writer, so running them
        # in parallel processes buys nothing and costs a process start per step.
        executor=dg.in_process_executor,
    )


def asset_graph(mesh: Mesh) -> dict[str, list[dg.AssetSpec]]:
    """Every domain's asset specs as its code location defines them (for policies over the whole graph);
    a broken domain's location does not load, so it has none."""
    return {
        d: list(build_domain_definitions(mesh, d).resolve_all_asset_specs())
        for d in mesh.domains
        if d not in mesh.broken
    }
