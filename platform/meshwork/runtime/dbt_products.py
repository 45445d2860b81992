"""Products implemented as dbt models, from the mesh's one dbt project.

A domain's code location loads only the models under ``models/<domain>/`` (its dbt group). Before
dbt runs, the port reader exposes each declared input port as a view ``port_<domain>.<product>_v<N>``
in the consumer's own warehouse; the dbt sources named ``port_<domain>`` point at those views and
are mapped to the producer's asset key, so the global asset graph shows the real cross-domain edges.
After dbt has released the warehouse, each product model is validated and published.
"""

import fcntl
import functools
import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from packaging import version

from meshwork.core import settings
from meshwork.core.errors import MeshDefinitionError, Problem
from meshwork.core.sqltypes import canonical_type
from meshwork.model.mesh import Mesh, Product
from meshwork.ports.reader import PortReader, ResolvedPort
from meshwork.runtime import dbt_runner, gate, run_lineage, specs
from meshwork.runtime.python_products import input_metadata
from meshwork.storage import landing, warehouse

PORT_SOURCE_PREFIX = "port_"


def dbt_executable() -> str:
    # The dbt installed next to this interpreter, even when the virtualenv is not on PATH.
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"


def manifest_path() -> Path:
    return settings.dbt_project_dir() / "target" / "manifest.json"


def _newest_source_mtime(project: Path) -> float:
    files = [project / "dbt_project.yml", project / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "tests", "snapshots"):
        files += [p for p in (project / folder).rglob("*") if p.is_file()]
    return max((f.stat().st_mtime for f in files if f.exists()), default=0.0)


def target_path(domain: str | None) -> Path:
    """A stable target folder per domain, so dbt reuses its partial parse between runs.

    ``None``: the folder of the parse the in-process runs share (see ``dbt_runner.parse``).
    """
    return settings.dbt_target_dir(domain or "_parse")


def dbt_vars(domain: str | None) -> dict[str, str]:
    # Without a domain: the code location's parse. Its warehouse is never opened, but its file
    # name gives the nodes their database name, which must be the one every domain's run uses.
    return {
        "mesh_warehouse": str(warehouse.path(domain)) if domain else "target/parse/warehouse.duckdb",
        "mesh_sources": str(settings.sources_dir()),
    }


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than any project file.

    Code locations load in parallel, so the parse runs under a file lock and is skipped by those that
    find a fresh manifest once they get the lock.
    """
    project = settings.dbt_project_dir()
    manifest = manifest_path()
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with (manifest.parent / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # The parse's warehouse file name is the nodes' database name: a manifest parsed with another is stale.
        stamp = manifest.parent / ".mesh_warehouse"
        same_target = stamp.exists() and stamp.read_text(encoding="utf-8") == dbt_vars(None)["mesh_warehouse"]
        if same_target and manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project):
            return manifest
        proc = subprocess.run(
            [
                dbt_executable(),
                "parse",
                "--quiet",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--vars",
                json.dumps(dbt_vars(None)),
            ],
            cwd=project,
            env=settings.subprocess_env(),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise MeshDefinitionError(
                [Problem(f"dbt parse failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}", file=project)]
            )
        stamp.write_text(dbt_vars(None)["mesh_warehouse"], encoding="utf-8")
    return manifest


def _port_source(props: Mapping[str, Any]) -> tuple[str, str, int] | None:
    """(domain, product, major) for a source that is another domain's output port."""
    source = props.get("source_name", "")
    if props.get("resource_type") != "source" or not source.startswith(PORT_SOURCE_PREFIX):
        return None
    product, _, major = props["name"].rpartition("_v")
    return source[len(PORT_SOURCE_PREFIX) :], product, int(major)


class MeshDbtTranslator(DagsterDbtTranslator):
    """Maps dbt resources to mesh asset keys, and product models to their descriptor-made specs."""

    def __init__(self, mesh: Mesh, domain: str, products_by_model: dict[str, Product]):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self.mesh = mesh
        self.domain = domain
        self.products_by_model = products_by_model

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        port = _port_source(dbt_resource_props)
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
                owners=[domain.descriptor.owner.dagster_owner],
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


def _domain_nodes(manifest: Mapping[str, Any], domain: str) -> dict[str, Mapping[str, Any]]:
    prefix = f"models/{domain}/"
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["original_file_path"].startswith(prefix)
    }


def _upstream_port_sources(manifest: Mapping[str, Any], uid: str, domain_nodes: Mapping[str, Any]) -> set[tuple]:
    """Port sources reached from a model through the domain's own (non-product) models."""
    found: set[tuple] = set()
    stack, seen = [uid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for parent in manifest["nodes"].get(current, {}).get("depends_on", {}).get("nodes", []):
            if parent.startswith("source."):
                port = _port_source(manifest["sources"][parent])
                if port:
                    found.add(port)
            elif parent in domain_nodes:
                stack.append(parent)
    return found


def check_models(mesh: Mesh, domain: str, manifest: Mapping[str, Any]) -> dict[str, Product]:
    """Verify each dbt product's model against its descriptor and contract; map model -> product."""
    nodes = _domain_nodes(manifest, domain)
    by_name = {node["name"]: (uid, node) for uid, node in nodes.items()}
    problems: list[Problem] = []
    mapping: dict[str, Product] = {}
    con = warehouse.memory_connection()
    for product in mesh.domains[domain].products:
        impl = product.descriptor.implementation
        if impl.engine != "dbt":
            continue
        model = impl.model or product.name
        problem = functools.partial(Problem, file=product.path, product=product.key)
        if model not in by_name:
            problems.append(
                problem(f"no dbt model '{model}' under dbt_project/models/{domain}/", field="implementation.model")
            )
            continue
        uid, node = by_name[model]
        mapping[model] = product
        model_file = f"dbt_project/{node['original_file_path']}"
        if node.get("group") != domain:
            problems.append(
                Problem(
                    f"dbt model '{model}' must be in dbt group '{domain}', it is in '{node.get('group')}'",
                    file=model_file,
                    product=product.key,
                )
            )
        if node.get("access") != "public":
            problems.append(
                Problem(
                    f"dbt model '{model}' is a product and must have access: public",
                    file=model_file,
                    product=product.key,
                )
            )
        if not node.get("config", {}).get("contract", {}).get("enforced"):
            problems.append(
                Problem(
                    f"dbt model '{model}' is a product and must enforce its contract (contract: {{enforced: true}})",
                    file=model_file,
                    product=product.key,
                )
            )
        contract = product.current_port.contract
        declared = {c["name"]: c.get("data_type") for c in node.get("columns", {}).values()}
        expected = {c.name: c.physical_type for c in contract.columns}
        if list(declared) != list(expected):
            problems.append(
                Problem(
                    f"dbt model '{model}' declares columns {list(declared)}, "
                    f"the ODCS contract {contract.path.name} declares {list(expected)}",
                    file=model_file,
                    product=product.key,
                )
            )
        else:
            for name, dtype in declared.items():
                if not dtype or canonical_type(con, dtype) != canonical_type(con, expected[name]):
                    problems.append(
                        Problem(
                            f"dbt column '{name}' has data_type {dtype!r}, the ODCS contract says {expected[name]}",
                            file=model_file,
                            product=product.key,
                        )
                    )
        declared_inputs = {(i.domain, i.name, i.major) for i in product.inputs}
        for port in sorted(_upstream_port_sources(manifest, uid, nodes) - declared_inputs):
            problems.append(
                problem(
                    f"dbt model '{model}' reads {port[0]}/{port[1]}@v{port[2]} without declaring it in inputPorts",
                    field="inputPorts",
                )
            )
    con.close()
    # Internal models may not read ports either unless some product of the domain declares them.
    declared_any = {(i.domain, i.name, i.major) for p in mesh.domains[domain].products for i in p.inputs}
    for uid, node in nodes.items():
        for port in sorted(_upstream_port_sources(manifest, uid, nodes) - declared_any):
            problems.append(
                Problem(
                    f"dbt model '{node['name']}' reads {port[0]}/{port[1]}@v{port[2]}, "
                    f"which no product of domain '{domain}' declares as an input",
                    file=f"dbt_project/{node['original_file_path']}",
                )
            )
    if problems:
        raise MeshDefinitionError(problems)
    return mapping


def domain_dbt_assets(mesh: Mesh, domain: str) -> dg.AssetsDefinition | None:
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    if not _domain_nodes(manifest, domain):
        return None
    products_by_model = check_models(mesh, domain, manifest)
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
            reader.expose_inputs()
    # The connection is closed again: dbt needs the warehouse's single write lock while it runs.
    # A stable target folder per domain lets dbt reuse its partial parse between runs.
    args = ["build", "--vars", json.dumps(dbt_vars(domain))]
    events: Iterator[dbt_runner.DbtEvent]
    if settings.dbt_in_process():
        events = dbt_runner.run(
            dbt,
            args,
            context=context,
            target_path=target_path(domain),
            parse_vars=json.dumps(dbt_vars(None)),
            parse_target=target_path(None),
        )
    else:
        events = dbt.cli(args, context=context, target_path=target_path(domain)).stream()
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
    return MeshDbtCliResource(project_dir=str(project), profiles_dir=str(project), dbt_executable=dbt_executable())
