"""Validate a whole project: the one check behind `mesh check` (the CI gate) and every `mesh new` / `mesh onboard`.

Three stages, each reported in full rather than stopping at the first problem: the mesh loads
(descriptors, contracts, inputs, grants), every dbt product's model matches its descriptor and
contract, and, when asked, every policy holds. Definition problems and policy findings are kept apart
because they fail differently (exit 2 and exit 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshwork.core.errors import MeshDefinitionError
from meshwork.governance.policies import AssetGraph, Finding, Policy, find_violations, load_policies
from meshwork.model.loader import load_mesh
from meshwork.model.mesh import Mesh
from meshwork.storage import dbt_project


@dataclass
class ProjectReport:
    mesh: Mesh | None
    problems: list[str] = field(default_factory=list)  # the definition is invalid: nothing may build
    findings: list[Finding] = field(default_factory=list)  # policy violations and warnings
    policies: list[Policy] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[str]:
        return [str(w) for w in self.mesh.warnings()] if self.mesh else []

    @property
    def ok(self) -> bool:
        return not self.problems and not self.errors

    def owner(self, domain: str) -> str:
        mesh = self.mesh
        return mesh.domains[domain].descriptor.owner.team if mesh and domain in mesh.domains else "?"


def validate_project(
    root: Path | None = None,
    *,
    domains: list[str] | None = None,
    check_grants: bool = True,
    manifest: Callable[[], dict[str, Any]] = dbt_project.load_manifest,
    policies: bool = True,
    asset_graph: Callable[[Mesh], AssetGraph] | None = None,
) -> ProjectReport:
    """Load the project at ``root`` (default: this checkout) and check its dbt models and policies.

    ``domains`` limits the dbt model check (default: every domain); ``manifest`` parses the project's
    dbt models (a staged copy parses its own); ``asset_graph`` lets the policies over every code
    location's assets run (given the loaded mesh), which only a caller that can build the Dagster
    definitions can give.
    """
    # Not strict, so that the warnings (versions about to be removed) show next to the problems.
    mesh = load_mesh(root, check_grants=check_grants, strict=False)
    if mesh.problems:
        return ProjectReport(mesh, [str(p) for p in mesh.problems])
    report = ProjectReport(mesh, policies=load_policies(mesh)[0] if policies else [])
    try:
        parsed = manifest()
    except MeshDefinitionError as exc:
        report.problems += [str(p) for p in exc.problems]
        return report
    for domain in mesh.domains if domains is None else domains:
        if domain not in mesh.domains:
            continue  # a new domain the caller reports itself (it is not registered)
        try:
            dbt_project.check_models(mesh, domain, parsed)
        except MeshDefinitionError as exc:
            report.problems += [str(p) for p in exc.problems]
    if policies and not report.problems:
        report.findings = find_violations(mesh, asset_graph and (lambda: asset_graph(mesh)))
    return report
