"""The mesh model: every domain, product, port and dependency, as loaded from the descriptors.

:mod:`meshwork.model.loader` builds it (``load_mesh``) and checks the whole graph first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

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

    def warnings(self) -> list[Problem]:
        """Things that still load but need action: inputs on deprecated port versions."""
        found = []
        for product in self.products.values():
            for i, port in enumerate(product.inputs):
                producer = self.products.get(port.product)
                out = producer.port(port.major) if producer else None
                if out and out.spec.is_deprecated(self.today) and not out.spec.is_removed(self.today):
                    until = f" and will be removed after {out.spec.removed_after}" if out.spec.removed_after else ""
                    found.append(
                        Problem(
                            f"'{port.ref}' is deprecated since {out.spec.deprecated_after}{until}; "
                            "plan the move to a newer major version",
                            file=product.path,
                            field=f"inputPorts.{i}",
                            product=product.key,
                        )
                    )
        return found

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
        """Domains in dependency order (producers before consumers); the graph is acyclic by load."""
        order: list[str] = []
        done: set[str] = set()

        def visit(name: str) -> None:
            if name in done:
                return
            for up in sorted(self.upstream_domains(name)):
                visit(up)
            done.add(name)
            order.append(name)

        for name in sorted(self.domains):
            visit(name)
        return order
