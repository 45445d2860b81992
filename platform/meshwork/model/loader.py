"""Load the mesh from the checkout: ``workspace.yaml``, each registered domain's ``domain.yaml``, its
product descriptors and their contracts, then check the whole graph (unknown inputs, duplicate
products, grants, retention, cycles across domains). Every problem found is reported at once, with
its file and field, and charged to the domain it stops (``Mesh.broken``), so one broken file holds
back its own domain and the consumers that need it, not the rest of the mesh.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import yaml

from meshwork.core import settings, yamlsafe
from meshwork.core.errors import MeshDefinitionError, Problem
from meshwork.model import grants
from meshwork.model.contracts import load_contract
from meshwork.model.descriptors import DomainDescriptor, Visibility, load_model
from meshwork.model.mesh import DOMAIN_MODULE_PREFIX, DOMAIN_MODULE_SUFFIX, Domain, Mesh, Port, Product
from meshwork.model.product_files import contract_files, load_product
from meshwork.model.rules import compile_rules


def workspace_domains(workspace: Path) -> tuple[list[tuple[str, str]], list[Problem]]:
    """(domain, location name) for each ``domains.<domain>.definitions`` entry of workspace.yaml."""
    try:
        data = yamlsafe.read(workspace) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return [], [Problem(f"cannot read the workspace: {exc}", file=workspace)]
    entries = data.get("load_from") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return [], [Problem("expected a 'load_from' list of code locations", file=workspace, field="load_from")]
    found, problems = [], []
    for i, entry in enumerate(entries):
        module = (entry or {}).get("python_module") if isinstance(entry, dict) else None
        if isinstance(module, str):
            module_name, location = module, None
        elif isinstance(module, dict):
            module_name, location = module.get("module_name", ""), module.get("location_name")
        else:
            continue
        if module_name.startswith(DOMAIN_MODULE_PREFIX) and module_name.endswith(DOMAIN_MODULE_SUFFIX):
            domain = module_name[len(DOMAIN_MODULE_PREFIX) : -len(DOMAIN_MODULE_SUFFIX)]
            found.append((domain, location or domain))
        elif module_name.startswith(DOMAIN_MODULE_PREFIX):
            problems.append(
                Problem(
                    f"'{module_name}' is not a domain entry point; use domains.<domain>.definitions",
                    file=workspace,
                    field=f"load_from.{i}.python_module",
                )
            )
    return found, problems


def _load_domain(domains_dir: Path, name: str, location: str, workspace: Path) -> tuple[Domain | None, list[Problem]]:
    path = domains_dir / name
    if not (path / "domain.yaml").is_file():
        return None, [
            Problem(
                f"domain '{name}' is registered but {path / 'domain.yaml'} does not exist",
                file=workspace,
                field="load_from",
            )
        ]
    descriptor, problems = load_model(DomainDescriptor, path / "domain.yaml")
    if descriptor is None:
        return None, problems
    if descriptor.name != name:
        return None, [
            Problem(
                f"the domain in folder '{name}' is named '{descriptor.name}'", file=path / "domain.yaml", field="name"
            )
        ]
    products: list[Product] = []
    by_name: dict[str, Path] = {}
    contracts, unreadable = contract_files(path / "contracts")  # output ports name theirs by contractId
    for file in sorted((path / "products").glob("*.yaml")):
        desc, errs = load_product(file, product=f"{name}/{file.stem}")
        # A file that is not even YAML still names its product: its consumers are told which input broke.
        problems += [e if e.product else dataclasses.replace(e, product=f"{name}/{file.stem}") for e in errs]
        if desc is None:
            continue
        key = f"{desc.domain}/{desc.name}"
        if desc.domain != name:
            problems.append(
                Problem(
                    f"the product lives in domain folder '{name}' but declares domain '{desc.domain}'",
                    file=file,
                    field="domain",
                    product=key,
                )
            )
            continue
        if desc.name in by_name:
            problems.append(
                Problem(
                    f"duplicate product key '{key}': also declared in {by_name[desc.name]}",
                    file=file,
                    field="name",
                    product=key,
                )
            )
            continue
        by_name[desc.name] = file
        ports, port_problems = [], []
        for i, spec in enumerate(desc.output_ports):
            found = contracts.get((spec.contract_id, spec.major), [])
            if len(found) != 1:
                where = f"{path / 'contracts'}/*.odcs.yaml"
                which = "no contract" if not found else f"{len(found)} contracts ({', '.join(p.name for p in found)})"
                verb = "has" if not found else "have"
                why = f"{which} in {where} {verb} id '{spec.contract_id}' and a version {spec.major}.x.y"
                errs = [
                    Problem(why, file=file, field=f"outputPorts.{i}.contractId"),
                    *(
                        dataclasses.replace(u, field=u.field or f"outputPorts.{i}.contractId")
                        for u in unreadable
                        if not found
                    ),
                ]
                port_problems += [dataclasses.replace(e, product=key) for e in errs]
                continue
            contract, errs = load_contract(found[0].resolve(), key)
            if contract is not None:
                errs = errs + compile_rules(contract, key)[1]
            port_problems += [
                Problem(e.reason, file=e.file, field=e.field or f"outputPorts.{i}.contract", product=key) for e in errs
            ]
            if contract is not None:
                ports.append(Port(domain=name, product=desc.name, spec=spec, contract=contract))
        majors = [p.major for p in ports]
        if len(set(majors)) != len(majors):
            port_problems.append(
                Problem("two output ports share a major version", file=file, field="outputPorts", product=key)
            )
        problems += port_problems
        if not port_problems:
            products.append(
                Product(descriptor=desc, path=file, owner=desc.owner_or(descriptor.owner), ports=tuple(ports))
            )
    return Domain(
        name=name, path=path, descriptor=descriptor, products=tuple(products), location_name=location
    ), problems


def _where(mesh: Mesh, problem: Problem) -> str:
    """The file at fault, relative to the project: the consumer is pointed at it, not told its content."""
    if problem.file is None:
        return "`mesh check`"
    path = Path(problem.file)
    return str(path.relative_to(mesh.project_dir)) if path.is_relative_to(mesh.project_dir) else str(path)


def _check_inputs(
    mesh: Mesh, check_grants: bool = True, unloaded: dict[str, Problem] | None = None
) -> Iterable[Problem]:
    """The inputs of every product; ``unloaded``: product key or domain -> the first problem that kept it
    out of the mesh (its consumers cannot build without its contract)."""
    products = mesh.products
    unloaded = unloaded or {}
    for product in products.values():
        for i, port in enumerate(product.inputs):
            problem = functools.partial(Problem, file=product.path, field=f"inputPorts.{i}", product=product.key)
            producer = products.get(port.product)
            if port.product == product.key:
                yield problem("a product cannot read its own output port")
            elif producer is None and (cause := unloaded.get(port.product) or unloaded.get(port.domain)):
                yield problem(
                    f"input '{port.ref}' does not load, so {product.key} cannot build until domain "
                    f"'{port.domain}' fixes it (see {_where(mesh, cause)})"
                )
            elif producer is None:
                yield problem(f"input port names unknown product '{port.product}'")
            elif (producer_port := producer.port(port.major)) is None:
                have = ", ".join(p.version for p in producer.ports)
                yield problem(f"'{port.product}' has no output port {port.version} (it publishes {have})")
            elif producer_port.visibility == Visibility.PRIVATE and producer.domain != product.domain:
                yield problem(f"'{port.ref}' is private to domain '{producer.domain}'")
            elif (
                check_grants
                and producer_port.visibility == Visibility.RESTRICTED
                and producer.domain != product.domain
                and mesh.grant(product.key, producer_port) is None
            ):
                all_grants = [*producer_port.spec.grants, *mesh.runtime_grants.get(producer_port.ref, [])]
                expired = [g for g in all_grants if g.consumer == product.key]
                owner = producer.owner
                contact = f"team {owner.team}" + (f", {owner.email}" if owner.email else "")
                deciders = f"the owners of {producer.key} ({contact})"
                why = grants.why_not_granted(product.key, port.ref, expired, deciders)
                yield problem(f"'{port.ref}' is restricted and {why}")
            elif producer_port.spec.is_removed(mesh.today):
                newer = ", ".join(p.version for p in producer.ports if p.major > port.major) or "none yet"
                yield problem(
                    f"'{port.ref}' was removed after {producer_port.spec.removed_after}; "
                    f"pin a newer major version ({newer})"
                )
        declared = {i.product for i in product.inputs}
        for out in product.ports:
            for rule in compile_rules(out.contract, product.key)[0]:
                target = rule.params.get("product") if rule.kind == "foreign_key" else None
                if target and target.split("/")[0] == product.domain:
                    # A sibling in the same domain is read from the domain's own warehouse.
                    if target in unloaded and target not in products:
                        yield Problem(
                            f"rule '{rule.id}' checks against {target}, which does not load "
                            f"(see {_where(mesh, unloaded[target])})",
                            file=out.contract.path,
                            field="relationships",
                            product=product.key,
                        )
                    elif target not in products or target == product.key:
                        yield Problem(
                            f"rule '{rule.id}' checks against {target}, which is not another product of "
                            f"domain '{product.domain}'",
                            file=out.contract.path,
                            field="relationships",
                            product=product.key,
                        )
                elif target and target not in declared:
                    yield Problem(
                        f"rule '{rule.id}' checks against {target}, which is not a declared input port",
                        file=out.contract.path,
                        field="relationships",
                        product=product.key,
                    )


def _check_retention(mesh: Mesh) -> Iterable[Problem]:
    for product in mesh.products.values():
        column = product.descriptor.retention_column
        for port in product.ports if column else ():
            found = port.contract.column(column)  # type: ignore[arg-type]
            kind = (found.physical_type or "").upper() if found else ""
            if not (kind.startswith("DATE") or kind.startswith("TIMESTAMP")):
                why = f"is {kind}" if found else "is not in the contract"
                yield Problem(
                    f"retentionColumn '{column}' {why}; it must be a DATE or TIMESTAMP column of {port.ref}",
                    file=product.path,
                    field="customProperties[retentionColumn]",
                    product=product.key,
                )


def _check_cycles(mesh: Mesh) -> Iterable[tuple[list[str], Problem]]:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for up in sorted(mesh.upstream_domains(name)):
            if up not in mesh.domains:
                continue
            if state.get(up) == 1:
                return stack[stack.index(up) :] + [up]
            if state.get(up) is None and (cycle := visit(up)):
                return cycle
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(mesh.domains):
        if state.get(name) is None and (cycle := visit(name)):
            path = " -> ".join(reversed(cycle))
            yield (
                cycle[:-1],
                Problem(
                    f"dependency cycle across domains: {path}; domains must form a directed acyclic graph",
                    file=mesh.domains[cycle[0]].path / "products",
                    product=None,
                ),
            )
            return


def load_mesh(
    project_dir: Path | None = None, today: date | None = None, check_grants: bool = True, strict: bool = True
) -> Mesh:
    """Load and check the whole mesh; every problem found is in ``mesh.problems``.

    ``strict`` (``mesh check``, authoring): raise :class:`MeshDefinitionError` listing every problem.
    Otherwise (code locations, builds, read-only commands) the mesh loads as far as it can: a product
    whose descriptor or contract fails is left out, and ``mesh.broken`` names each domain that may not
    load or build and why (its own products' problems, or an input that does not load, is not granted
    or was removed). ``today`` decides which port versions are deprecated or removed (tests pin it).
    """
    project_dir = project_dir or settings.project_dir()
    workspace = project_dir / "workspace.yaml"
    entries, general = workspace_domains(workspace)
    approved, _forged = grants.approved_grants()  # the store under MESH_HOME: this environment's approvals
    mesh = Mesh(project_dir=project_dir, today=today or date.today(), runtime_grants=approved)
    owned: list[tuple[str, Problem]] = []  # (domain, problem): a problem of that domain only
    unloaded: dict[str, Problem] = {}  # product key or domain that is not in the mesh -> why
    seen: set[str] = set()
    for name, location in entries:
        if name in seen:
            owned.append((name, Problem(f"domain '{name}' is listed twice", file=workspace, field="load_from")))
            continue
        seen.add(name)
        domain, errs = _load_domain(project_dir / "domains", name, location, workspace)
        owned += [(name, e) for e in errs]
        if domain:
            mesh.domains[name] = domain
        elif errs:
            unloaded[name] = errs[0]
        for e in errs:
            if e.product and e.product not in mesh.products:
                unloaded.setdefault(e.product, e)
    for folder in sorted((project_dir / "domains").glob("*/domain.yaml")):
        if folder.parent.name not in seen:
            general.append(
                Problem(f"domain folder '{folder.parent.name}' is not registered in workspace.yaml", file=folder)
            )
    # Enforced mode: grants live in the control plane, which checks them on every read; the local
    # grant store means nothing there, so a load does not consult it.
    graph = [
        *_check_inputs(mesh, check_grants and settings.mode() == "local", unloaded),
        *_check_retention(mesh),
    ]
    owned += [(p.product.split("/")[0], p) for p in graph if p.product]
    general += [p for p in graph if not p.product]
    for cycle, problem in _check_cycles(mesh):
        owned += [(d, problem) for d in cycle]
    mesh.problems = general + list(dict.fromkeys(p for _, p in owned))
    for name, problem in owned:
        mesh.broken.setdefault(name, []).append(problem)
    if strict and mesh.problems:
        raise MeshDefinitionError(mesh.problems)
    return mesh


def ensure_importable(project_dir: Path) -> None:
    """Let ``domains.*`` be imported from a tool's process, as Dagster does for its working directory."""
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))


@functools.cache
def current_mesh() -> Mesh:
    """The mesh of this process's project, loaded once (code locations reload by restarting).

    Not strict: a code location refuses only when its own domain is in ``mesh.broken``.
    """
    return load_mesh(strict=False)
