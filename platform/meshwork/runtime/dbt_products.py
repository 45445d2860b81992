"""Products implemented as dbt models, from the mesh's one dbt project.

A domain's code location loads only the models under ``models/<domain>/`` (its dbt group). Before
dbt runs, the port reader exposes each declared input port as a view ``port_<domain>.<product>_v<N>``
in the consumer's own warehouse; the dbt sources named ``port_<domain>`` point at those views and
are mapped to the producer's asset key, so the global asset graph shows the real cross-domain edges.
After dbt has released the warehouse, each product model is validated and published.
"""

import importlib.metadata
import json
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from packaging import version

from meshwork.core import settings
from meshwork.model.mesh import Mesh, Product
from meshwork.ports.reader import PortReader, ResolvedPort
from meshwork.runtime import dbt_runner, gate, run_lineage, run_publish, specs
from meshwork.runtime.python_products import input_metadata
from meshwork.storage import dbt_project, landing, warehouse


class MeshDbtTranslator(DagsterDbtTranslator):
    """Maps dbt resources to mesh asset keys, and product models to their descriptor-made specs."""

    def __init__(self, mesh: Mesh, domain: str, products_by_model: dict[str, Product]):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self.mesh = mesh
        self.domain = domain
        self.products_by_model = products_by_model

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        port = dbt_project.port_source(dbt_resource_props)
        if port:
            return dg.AssetKey([port[0], port[1]])
        if dbt_resource_props.get("resource_type") == "source":
            return dg.AssetKey(["sources", dbt_resource_props["source_name"], dbt_resource_props["name"]])
        product = self.products_by_model.get(dbt_resource_props["name"])
        if product is not None and dbt_resource_props.get("resource_type") == "model":
            # implementation.model may differ from the product's name (dbt names are global): the key is the product's.
            return specs.asset_key(product.key)
        return dg.AssetKey([self.domain, dbt_resource_props["name"]])

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") != "model" or props.get("package_name") != manifest["metadata"].get(
            "project_name"
        ):
            return spec
        product = self.products_by_model.get(props["name"])
        if product is None:  # an internal model of the domain (staging, intermediate)
            domain = self.mesh.domains[self.domain]
            return spec.replace_attributes(
                group_name=self.domain,
                owners=domain.descriptor.owner.dagster_owners,
                tags={**spec.tags, f"{specs.TAG_PREFIX}domain": self.domain, f"{specs.TAG_PREFIX}internal": "true"},
            )
        product_spec = specs.asset_spec(self.mesh, product, "dbt", [Path(props["original_file_path"])])
        return spec.replace_attributes(
            description=product_spec.description,
            group_name=product_spec.group_name,
            owners=product_spec.owners,
            tags={**spec.tags, **product_spec.tags},
            kinds=product_spec.kinds,
            code_version=product_spec.code_version,
            freshness_policy=product_spec.freshness_policy,
            automation_condition=product_spec.automation_condition,
        ).merge_attributes(
            metadata=product_spec.metadata,
            # Inputs the SQL does not read (e.g. a port only a contract rule checks against) are
            # still dependencies: the gate reads them.
            deps=[d for d in product_spec.deps if d.asset_key not in {x.asset_key for x in spec.deps}],
        )


def domain_dbt_assets(mesh: Mesh, domain: str) -> dg.AssetsDefinition | None:
    manifest = dbt_project.load_manifest()
    if not dbt_project.domain_nodes(manifest, domain):
        return None
    products_by_model = dbt_project.check_models(mesh, domain, manifest)
    translator = MeshDbtTranslator(mesh, domain, products_by_model)

    @dbt_assets(
        manifest=manifest,
        select=f"group:{domain}",
        dagster_dbt_translator=translator,
        name=f"{domain}__dbt",
        pool=warehouse.pool(domain),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        selected = set(context.selected_asset_keys)
        products = {specs.asset_key(p.key): p for p in products_by_model.values() if specs.asset_key(p.key) in selected}
        for product in products.values():
            run_lineage.started(context, mesh, product)
        reads: dict[dg.AssetKey, list[ResolvedPort]] = {}
        try:
            yield from _run_dbt(context, dbt, mesh, domain, products, reads)
        except GeneratorExit:
            raise
        except BaseException as exc:
            # A failed step skips its downstream steps, gates included: every selected product failed.
            for key, product in products.items():
                run_lineage.failed(context, mesh, product, exc, reads.get(key, []))
            raise

    return _dbt


def _run_dbt(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    mesh: Mesh,
    domain: str,
    products: dict[dg.AssetKey, Product],
    reads: dict[dg.AssetKey, list[ResolvedPort]],
):
    with warehouse.connect(domain) as con:
        if problems := landing.ingest_problems(con, products.values()):
            raise dg.Failure(description="the landing files do not match the descriptor:\n- " + "\n- ".join(problems))
        for key, product in products.items():
            reads[key] = []
            reader = PortReader(mesh, product, con, run_id=context.run.run_id)
            reader.reads = reads[key]
            reader.staged = run_publish.staged_in_run(context, domain)
            reader.expose_inputs()
    # The connection is closed again: dbt needs the warehouse's single write lock while it runs.
    # A stable target folder per domain lets dbt reuse its partial parse between runs.
    args = ["build", "--vars", json.dumps(dbt_project.dbt_vars(domain))]
    events: Iterator[dbt_runner.DbtEvent]
    if settings.dbt_in_process():
        events = dbt_runner.run(
            dbt,
            args,
            context=context,
            target_path=dbt_project.target_path(domain),
            parse_vars=json.dumps(dbt_project.dbt_vars(None)),
            parse_target=dbt_project.target_path(None),
        )
    else:
        events = dbt.cli(args, context=context, target_path=dbt_project.target_path(domain)).stream()
    built: list[str] = []
    for event in events:
        if isinstance(event, dg.Output) and context.asset_key_for_output(event.output_name) in reads:
            key = context.asset_key_for_output(event.output_name)
            built.append(gate.table_name(products[key]))
            event = event.with_metadata({**event.metadata, **input_metadata(reads[key])})
        yield event
    with warehouse.connect(domain) as con:
        for table in built:
            warehouse.record_build(con, table, context.run.run_id)


class MeshDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, minus its `dbt --version` probe.

    The probe runs before every invocation, costs ~5 s, and makes dbt ask the package index for the
    latest release: on a machine without internet that call waits for a timeout. The installed
    dbt-core's version is the same answer, read locally.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))


def dbt_resource() -> DbtCliResource:
    project = settings.dbt_project_dir()
    return MeshDbtCliResource(
        project_dir=str(project), profiles_dir=str(project), dbt_executable=dbt_project.dbt_executable()
    )
