"""Federated computational governance: policies as small Python objects, global and per domain.

A policy has an id, a one-line rationale, a severity and a scope. Global policies live in
``meshwork.governance.global_policies``; a domain adds its own in ``domains/<domain>/policies.py`` with the same
decorator, and they apply to that domain's products only. Every policy evaluates over the whole mesh
model (descriptors, contracts, grants), the dbt manifest and, when it asks for them, the asset specs of
every code location. Governance does not import Dagster: whoever can build the asset graph (the CLI,
the platform code location) hands a loader for it to :func:`find_violations`. `mesh check` runs them
all: the CI gate; the governance code location runs the same ones at runtime.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from meshwork.core.errors import MeshDefinitionError, Problem
from meshwork.model.loader import ensure_importable
from meshwork.model.mesh import Mesh
from meshwork.storage import dbt_project

Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class Finding:
    policy: str
    severity: Severity
    subject: str  # a product key, or a domain name
    message: str
    file: Path | None = None

    @property
    def domain(self) -> str:
        return self.subject.split("/")[0]


class NeedsAssetGraph(Exception):
    """A policy asked for every location's asset graph, which one location's load cannot build."""


class AssetKeyLike(Protocol):
    path: Sequence[str]


class AssetDepLike(Protocol):
    asset_key: AssetKeyLike


class AssetSpecLike(Protocol):
    """What policies read of an asset spec (``dagster.AssetSpec`` has these)."""

    key: AssetKeyLike
    group_name: str | None
    deps: Iterable[AssetDepLike]


AssetGraph = Mapping[str, Sequence[Any]]  # domain -> its location's asset specs (AssetSpecLike)


@dataclass
class GovernanceContext:
    """What policies look at. The asset graph and the dbt manifest are loaded only if a policy asks."""

    mesh: Mesh
    asset_graph: Callable[[], AssetGraph] | None = None
    _specs: AssetGraph | None = field(default=None, repr=False)
    _manifest: dict | None = field(default=None, repr=False)

    @property
    def dbt_manifest(self) -> dict:
        if self._manifest is None:
            self._manifest = dbt_project.load_manifest()
        return self._manifest

    @property
    def asset_specs(self) -> AssetGraph:
        if self.asset_graph is None:
            raise NeedsAssetGraph
        if self._specs is None:
            self._specs = self.asset_graph()
        return self._specs


Check = Callable[[GovernanceContext], Iterable[tuple[str, str, Path | None]]]


@dataclass(frozen=True)
class Policy:
    id: str
    rationale: str
    severity: Severity
    scope: str  # "global" or a domain name
    check: Check

    def findings(self, ctx: GovernanceContext) -> list[Finding]:
        findings = [Finding(self.id, self.severity, s, m, f) for s, m, f in self.check(ctx)]
        if self.scope != "global":  # a domain governs itself, not its neighbours
            findings = [f for f in findings if f.domain == self.scope]
        return findings


_REGISTRY: list[Policy] = []


def policy(id: str, rationale: str, severity: Severity = "error") -> Callable[[Check], Policy]:
    """Declare a policy. In ``domains/<domain>/policies.py`` it is scoped to that domain."""

    def register(fn: Check) -> Policy:
        module = fn.__module__
        scope = module.split(".")[1] if module.startswith("domains.") else "global"
        made = Policy(id=id, rationale=rationale, severity=severity, scope=scope, check=fn)
        _REGISTRY.append(made)
        return made

    return register


@functools.cache
def _import_global() -> None:
    importlib.import_module("meshwork.governance.global_policies")


def load_policies(mesh: Mesh) -> tuple[list[Policy], list[Finding]]:
    """Global policies plus each domain's; a domain policy file that fails to import is a finding."""
    _import_global()
    ensure_importable(mesh.project_dir)
    problems = []
    for domain in mesh.domains.values():
        if (domain.path / "policies.py").is_file():
            try:
                importlib.import_module(f"domains.{domain.name}.policies")
            except Exception as exc:  # the file is the domain's code: report it, do not crash the gate
                problems.append(
                    Finding(
                        "policy-file",
                        "error",
                        domain.name,
                        f"cannot load its policies: {exc!r}",
                        domain.path / "policies.py",
                    )
                )
    seen: dict[str, Policy] = {}
    for p in _REGISTRY:
        if p.scope == "global" or p.scope in mesh.domains:
            seen[f"{p.scope}:{p.id}"] = p
    return list(seen.values()), problems


def find_violations(mesh: Mesh, asset_graph: Callable[[], AssetGraph] | None = None) -> list[Finding]:
    """Every policy's findings. Without an asset graph loader, the policies that need it are skipped."""
    policies, findings = load_policies(mesh)
    ctx = GovernanceContext(mesh, asset_graph)
    for p in policies:
        try:
            findings += p.findings(ctx)
        except NeedsAssetGraph:
            continue
        except Exception as exc:
            findings.append(Finding(p.id, "error", p.scope, f"the policy itself failed: {exc!r}"))
    return sorted(findings, key=lambda f: (f.domain, f.subject, f.policy))


def enforce_at_load(mesh: Mesh, domain: str) -> None:
    """Refuse to load a domain's code location while it violates an error-severity policy.

    `mesh check` in CI is the first gate; this one stops a location deployed without it. Policies
    over the whole asset graph run in CI and in the platform location's governance sensor instead:
    building every location's definitions inside each one would multiply load time by the domains.
    """
    errors = [f for f in find_violations(mesh) if f.domain == domain and f.severity == "error"]
    if errors:
        raise MeshDefinitionError(
            [
                Problem(
                    f"policy '{f.policy}' is violated: {f.message}",
                    file=f.file,
                    product=f.subject if "/" in f.subject else None,
                )
                for f in errors
            ]
        )
