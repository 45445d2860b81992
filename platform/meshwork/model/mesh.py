"""The mesh model: every domain, product, port and dependency, as loaded from the descriptors.

:mod:`meshwork.model.loader` builds it (``load_mesh``) and checks the whole graph first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from meshwork.core import settings
from meshwork.core.errors import Problem
from meshwork.model import grants
from meshwork.model.contracts import Contract
from meshwork.model.descriptors import (
    DomainDescriptor,
    InputPort,
    OutputPort,
    Owner,
    ProductDescriptor,
    Visibility,
)

DOMAIN_MODULE_PREFIX = "domains."
DOMAIN_MODULE_SUFFIX = ".definitions"
PRODUCT_KEY = re.compile(r"[a-z][a-z0-9_]*/[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Port:
    """One version of a product's output port."""

    domain: str
    product: str
    spec: OutputPort
    contract: Contract

    @property
    def major(self) -> int:
        return self.contract.major

    @property
    def version(self) -> str:
        return f"v{self.major}"

    @property
    def ref(self) -> str:
        return f"{self.domain}/{self.product}@{self.version}"

    @property
    def visibility(self) -> Visibility:
        return self.spec.visibility


@dataclass(frozen=True)
class Product:
    descriptor: ProductDescriptor
    path: Path
    owner: Owner
    ports: tuple[Port, ...]

    @property
    def domain(self) -> str:
        return self.descriptor.domain

    @property
    def name(self) -> str:
        return self.descriptor.name

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.name}"

    @property
    def inputs(self) -> list[InputPort]:
        return self.descriptor.input_ports

    @property
    def current_port(self) -> Port:
        """The newest major version: the one the product builds and validates against."""
        return max(self.ports, key=lambda p: p.major)

    def port(self, major: int) -> Port | None:
        return next((p for p in self.ports if p.major == major), None)


@dataclass(frozen=True)
class Domain:
    name: str
    path: Path
    descriptor: DomainDescriptor
    products: tuple[Product, ...]
    location_name: str


@dataclass
class Mesh:
    project_dir: Path
    domains: dict[str, Domain] = field(default_factory=dict)
    today: date = field(default_factory=date.today)
    runtime_grants: dict[str, list] = field(default_factory=dict)  # port ref -> approved requests' grants
    # Every problem of the definition, as `mesh check` reports it (a strict load raises on any).
    problems: list[Problem] = field(default_factory=list)
    # Domain -> the problems that stop it from loading and building: its own (a descriptor, contract,
    # input or grant of its products) and its consumers' inputs that do not load. Other domains are
    # not held back by them.
    broken: dict[str, list[Problem]] = field(default_factory=dict)

    def warnings(self) -> list[Problem]:
        """Things that still load but need action: inputs on deprecated port versions, and on versions
        whose removal date is at most ``MESH_REMOVAL_NOTICE_DAYS`` away (they fail to load after it)."""
        found: list[Problem] = []
        soon = settings.removal_notice_days()
        for product in self.products.values():
            for i, port in enumerate(product.inputs):
                producer = self.products.get(port.product)
                out = producer.port(port.major) if producer else None
                if producer is None or out is None or out.spec.is_removed(self.today):
                    continue
                removed = out.spec.removed_after
                left = (removed - self.today).days if removed else None
                if not out.spec.is_deprecated(self.today) and (left is None or left > soon):
                    continue
                newer = ", ".join(p.version for p in producer.ports if p.major > port.major) or "a newer major"
                since = f"is deprecated since {out.spec.deprecated_after}" if out.spec.is_deprecated(self.today) else ""
                until = f"will be removed after {removed}" if removed else ""
                what = " and ".join(s for s in (since, until) if s)
                # No day count in the text: a notice's identity is its text, and it must not change daily.
                then = (
                    f"{product.key} stops loading after {removed}: pin {newer} before"
                    if removed
                    else (f"plan the move to {newer}")
                )
                found.append(
                    Problem(
                        f"'{port.ref}' {what}; {then}", file=product.path, field=f"inputPorts.{i}", product=product.key
                    )
                )
        return found

    def buildable(self, wanted: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
        """The domains of ``wanted`` (default: all) that may build, in dependency order, and why each
        other one may not: it is broken, or an upstream domain that this build would run first is."""
        wanted_set = set(wanted or self.domains)
        order: list[str] = []
        held: dict[str, str] = {}
        for domain in sorted(wanted_set - set(self.domains)):  # registered, but its domain.yaml does not load
            held[domain] = f"{len(self.broken.get(domain, []))} problem(s) in its definition"
        for domain in self.domain_order():
            if domain not in wanted_set:
                continue
            if domain in self.broken:
                held[domain] = f"{len(self.broken[domain])} problem(s) in its definition"
                continue
            ups = sorted(u for u in self.upstream_domains(domain) & wanted_set if u in held)
            if ups:
                held[domain] = f"upstream domain(s) {', '.join(ups)} cannot build"
            else:
                order.append(domain)
        return order, held

    def unloaded_products(self) -> list[str]:
        """Keys of the products left out of the mesh because their descriptor or contract does not load."""
        loaded = self.products
        # Only well-formed keys: a key taken from an odd file name must not become a path into the store.
        keys = {p.product for p in self.problems if p.product and p.product not in loaded}
        return sorted(k for k in keys if PRODUCT_KEY.fullmatch(k))

    @property
    def products(self) -> dict[str, Product]:
        return {p.key: p for d in self.domains.values() for p in d.products}

    def product(self, key: str) -> Product:
        return self.products[key]

    def upstream_domains(self, domain: str) -> set[str]:
        return {i.domain for p in self.domains[domain].products for i in p.inputs if i.domain != domain}

    def grant(self, consumer: str, port: Port):
        """The valid grant letting ``consumer`` read a restricted ``port`` (descriptor or approved request)."""
        candidates = [*port.spec.grants, *self.runtime_grants.get(port.ref, [])]
        return next((g for g in candidates if g.consumer == consumer and g.is_valid(self.today)), None)

    def grant_at_read(self, consumer: str, port: Port):
        """The grant as it stands now, for the port reader: a run or code server loaded before a
        revocation or an expiry must not keep reading on the strength of what it saw at load."""
        approved, _forged = grants.approved_grants()
        today = max(self.today, date.today())
        candidates = [*port.spec.grants, *approved.get(port.ref, [])]
        return next((g for g in candidates if g.consumer == consumer and g.is_valid(today)), None)

    def consumers(self, product_key: str) -> list[tuple[Product, InputPort]]:
        return [(p, i) for p in self.products.values() for i in p.inputs if i.product == product_key]

    def domain_order(self) -> list[str]:
        """Domains in dependency order (producers before consumers)."""
        order: list[str] = []
        done: set[str] = set()
        path: set[str] = set()  # a cycle is a load problem of its domains; it must not recurse forever

        def visit(name: str) -> None:
            if name in done or name in path or name not in self.domains:
                return
            path.add(name)
            for up in sorted(self.upstream_domains(name)):
                visit(up)
            path.discard(name)
            done.add(name)
            order.append(name)

        for name in sorted(self.domains):
            visit(name)
        return order
