"""The mesh's one dbt project as files: its parse (the manifest), the vars that point dbt at a
domain's warehouse and the landing zone, and the walks over the manifest every layer needs.

No Dagster here: governance, authoring and the runtime all read the same manifest through
:func:`load_manifest`, and the runtime turns it into assets (``meshwork.runtime.dbt_products``).
dbt itself runs as a subprocess for the parse, so importing this module stays cheap.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from meshwork.core import settings
from meshwork.core.errors import MeshDefinitionError, Problem
from meshwork.core.sqltypes import canonical_type
from meshwork.model.mesh import Mesh, Product
from meshwork.storage import warehouse

PORT_SOURCE_PREFIX = "port_"


def dbt_executable() -> str:
    # The dbt installed next to this interpreter, even when the virtualenv is not on PATH.
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"


def manifest_path() -> Path:
    return settings.dbt_project_dir() / "target" / "manifest.json"


def _project_key(project: Path) -> str:
    """A digest of the path, size and modification time of every file the parse reads.

    The newest modification time alone misses a deleted or renamed file (neither makes anything
    newer), so a parse that still holds a deleted model would be reused.
    """
    files = [project / "dbt_project.yml", project / "profiles.yml", project / "packages.yml"]
    # vendor/: the dbt packages of onboarded projects (its packages-install-path), read by every parse.
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses", "vendor"):
        files += [p for p in (project / folder).rglob("*") if p.is_file()]
    digest = hashlib.sha256()
    for file in sorted(files):
        try:
            stat = file.stat()
        except FileNotFoundError:  # absent, or deleted since the walk: absence is part of the key
            continue
        digest.update(f"{file.relative_to(project)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


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
    """Parse the dbt project when its manifest is missing or any project file was added, changed or deleted.

    Code locations load in parallel, so the parse runs under a file lock and is skipped by those that
    find a fresh manifest once they get the lock.
    """
    project = settings.dbt_project_dir()
    manifest = manifest_path()
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with (manifest.parent / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # The key is taken before the parse, so a file changed during it makes the next load parse again.
        # The parse's warehouse file name is the nodes' database name: a manifest parsed with another is stale.
        # The manifest's own mtime is part of the key: a `dbt parse` run by hand (other vars) is not ours.
        key = f"{dbt_vars(None)['mesh_warehouse']}\n{_project_key(project)}"
        stamp = manifest.parent / ".mesh_parse_key"
        present = manifest.exists() and stamp.exists()
        if present and stamp.read_text(encoding="utf-8") == f"{key}\n{manifest.stat().st_mtime_ns}":
            return manifest
        stamp.unlink(missing_ok=True)  # a parse that fails leaves no key claiming the old manifest is fresh
        parse(project, manifest.parent)
        stamp.write_text(f"{key}\n{manifest.stat().st_mtime_ns}", encoding="utf-8")
    return manifest


def parse(project: Path, target: Path, env: Mapping[str, str] | None = None) -> Path:
    """``dbt parse`` of ``project`` into ``target``; its manifest, or the parse's output as the error."""
    proc = subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(target),
            "--vars",
            json.dumps(dbt_vars(None)),
        ],
        cwd=project,
        env=settings.subprocess_env(dict(env or {})),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise MeshDefinitionError(
            [Problem(f"dbt parse failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}", file=project)]
        )
    return target / "manifest.json"


def port_source(props: Mapping[str, Any]) -> tuple[str, str, int] | None:
    """(domain, product, major) for a source that is another domain's output port."""
    source = props.get("source_name", "")
    if props.get("resource_type") != "source" or not source.startswith(PORT_SOURCE_PREFIX):
        return None
    product, _, major = props["name"].rpartition("_v")
    return source[len(PORT_SOURCE_PREFIX) :], product, int(major)


def load_manifest() -> dict[str, Any]:
    """The parsed manifest of the project, parsed first when it is missing or stale."""
    return json.loads(ensure_manifest().read_text(encoding="utf-8"))


def parents(node: Mapping[str, Any]) -> list[str]:
    """The unique ids a manifest node depends on directly (models, seeds, sources)."""
    return list(node.get("depends_on", {}).get("nodes", []))


def ancestors(manifest: Mapping[str, Any], uid: str, descend: Callable[[str], bool]) -> Iterator[str]:
    """Every node ``uid`` depends on, directly or through the parents for which ``descend`` is true."""
    stack, seen = [uid], {uid}
    while stack:
        for parent in parents(manifest["nodes"].get(stack.pop(), {})):
            if parent in seen:
                continue
            seen.add(parent)
            yield parent
            if descend(parent):
                stack.append(parent)


def domain_nodes(manifest: Mapping[str, Any], domain: str) -> dict[str, Mapping[str, Any]]:
    prefix = f"models/{domain}/"
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["original_file_path"].startswith(prefix)
    }


def _upstream_port_sources(manifest: Mapping[str, Any], uid: str, domain_nodes: Mapping[str, Any]) -> set[tuple]:
    """Port sources reached from a model through the domain's own (non-product) models."""
    found: set[tuple] = set()
    for parent in ancestors(manifest, uid, descend=lambda node: node in domain_nodes):
        if parent.startswith("source.") and (port := port_source(manifest["sources"][parent])):
            found.add(port)
    return found


def check_models(mesh: Mesh, domain: str, manifest: Mapping[str, Any]) -> dict[str, Product]:
    """Verify each dbt product's model against its descriptor and contract; map model -> product."""
    nodes = domain_nodes(manifest, domain)
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
        # A contract column the port computes by renaming a model column (outputPorts[].columns) is that column.
        renamed = product.current_port.spec.renamed
        expected = {renamed.get(c.name, c.name): c.physical_type for c in contract.columns}
        missing = {c: m for c, m in renamed.items() if m not in declared}
        for column, source in missing.items():
            problems.append(
                Problem(
                    f"output port {product.current_port.version} publishes contract column '{column}' from "
                    f"column '{source}', which dbt model '{model}' does not declare (it has {list(declared)})",
                    file=product.path,
                    field=f"outputPorts[{product.current_port.version}].customProperties.columns.{column}",
                    product=product.key,
                )
            )
        if not missing and list(declared) != list(expected):
            problems.append(
                Problem(
                    f"dbt model '{model}' declares columns {list(declared)}, "
                    f"the ODCS contract {contract.path.name} declares {list(expected)}"
                    + (f" (the port renames {renamed})" if renamed else ""),
                    file=model_file,
                    product=product.key,
                )
            )
        elif not missing:
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
