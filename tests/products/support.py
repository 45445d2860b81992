"""Helpers shared by the product tests."""

from __future__ import annotations

import dataclasses

from meshwork.model.descriptors import InputPort
from meshwork.model.mesh import Mesh
from meshwork.runtime.testing import ProductRun


def failed_rules(run: ProductRun) -> set[str]:
    """The ids of the contract rules the built sample breaks (e.g. ``email.unique``)."""
    return {result.rule.id for report in run.reports for result in report.failures}


def by(rows: list[dict], *keys: str) -> list[dict]:
    """``rows`` sorted by ``keys`` (a product's row order is not part of its contract)."""
    return sorted(rows, key=lambda r: tuple(r[k] for k in keys))


def with_sibling_input(mesh: Mesh, product_key: str, sibling_key: str) -> Mesh:
    """A copy of ``mesh`` in which ``product_key`` declares its same-domain sibling as an input port.

    The publish gate reads the target of a same-domain foreign key from the sibling's table in the
    domain's warehouse; `run_product` reads foreign-key targets only from declared inputs. Declaring
    the sibling makes its sample rows that table (and dbt's ``ref`` to it a table of that name).
    """
    product = mesh.product(product_key)
    ports = [*product.inputs, InputPort.of(sibling_key, "v1")]
    changed = dataclasses.replace(product, descriptor=product.descriptor.model_copy(update={"input_ports": ports}))
    domain = mesh.domains[product.domain]
    products = tuple(changed if p.key == product_key else p for p in domain.products)
    return dataclasses.replace(
        mesh, domains={**mesh.domains, product.domain: dataclasses.replace(domain, products=products)}
    )
