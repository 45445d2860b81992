"""Compile product descriptors and contracts into Dagster asset specs and check specs.

The descriptor is the single source of truth: key ``[domain, product]``, group = domain, owners,
kinds, tags, description, column schema (with classification), freshness policy from the SLA, the
automation condition, and a code version that changes whenever the descriptor, a contract or the
implementation changes.
"""

from __future__ import annotations

import hashlib
import inspect
import types
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg

from meshwork.core import settings
from meshwork.model.descriptors import ProductKind
from meshwork.model.mesh import Mesh, Product

CONTRACT_CHECK = "contract"
TAG_PREFIX = "meshwork/"

F = TypeVar("F", bound=Callable[..., object])
_signatures: dict[types.CodeType, inspect.Signature] = {}


def signed(fn: F) -> F:
    """``fn`` with its signature computed once per function definition, not once per product.

    Dagster's op decorators call ``inspect.signature`` on the function about 16 times per op, a third
    of building a product's asset or gate; ``inspect`` returns ``__signature__`` when it is set (as
    its documentation says). Closures of one ``def`` share their code and, without defaults, their
    signature; a function with defaults keeps its own.
    """
    if isinstance(fn, types.FunctionType) and fn.__defaults__ is None and fn.__kwdefaults__ is None:
        if fn.__code__ not in _signatures:
            _signatures[fn.__code__] = inspect.signature(fn)
        fn.__signature__ = _signatures[fn.__code__]  # type: ignore[attr-defined]
    return fn


def asset_key(product_key: str) -> dg.AssetKey:
    domain, name = product_key.split("/")
    return dg.AssetKey([domain, name])


def column_schema(product: Product) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.physical_type,
                description=c.description,
                constraints=dg.TableColumnConstraints(nullable=not c.required, unique=c.unique or c.primary_key),
                tags={"classification": c.classification} if c.classification else {},
            )
            for c in product.current_port.contract.columns
        ]
    )


def code_version(product: Product, implementation_files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in [product.path, *(p.contract.path for p in product.ports), *implementation_files]:
        if file.is_file():
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def description(product: Product) -> str:
    d = product.descriptor.description
    parts = [d.purpose]
    if d.usage:
        parts.append(f"Usage: {d.usage}")
    if d.limitations:
        parts.append(f"Limitations: {d.limitations}")
    return "\n\n".join(parts)


def automation_condition(mesh: Mesh, product: Product) -> dg.AutomationCondition | None:
    """Products fed by other domains refresh when an upstream port is republished, once its
    blocking contract checks pass; source-aligned products run on their schedule instead."""
    if product.descriptor.product_kind == ProductKind.SOURCE_ALIGNED or not product.inputs:
        return None
    return dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()


def tags(product: Product) -> dict[str, str]:
    port = product.current_port
    return {
        f"{TAG_PREFIX}domain": product.domain,
        f"{TAG_PREFIX}product-kind": product.descriptor.product_kind.value,
        f"{TAG_PREFIX}visibility": port.visibility.value,
        f"{TAG_PREFIX}status": product.descriptor.status,
        **{f"{TAG_PREFIX}tag-{t}": "" for t in product.descriptor.tags},
    }


def metadata(product: Product) -> dict[str, object]:
    port = product.current_port
    return {
        "dagster/column_schema": column_schema(product),
        "meshwork/product": product.key,
        "meshwork/ports": ", ".join(p.ref for p in product.ports),
        "meshwork/contract": f"{port.contract.id} {port.contract.version}",
        "meshwork/descriptor": dg.MetadataValue.path(str(product.path)),
        "meshwork/inputs": ", ".join(i.ref for i in product.inputs) or "(none)",
        "meshwork/sla_freshness": product.descriptor.sla.freshness,
        "meshwork/catalog": dg.MetadataValue.url(catalog_page_url(product)),
    }


def catalog_page_url(product: Product) -> str:
    """The product's page in the catalog that `mesh catalog build` writes (see meshwork.catalog.site)."""
    return f"{settings.catalog_url()}/{product.domain}/{product.name}.html"


def asset_spec(mesh: Mesh, product: Product, engine_kind: str, implementation_files: list[Path]) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=asset_key(product.key),
        deps=[asset_key(i.product) for i in product.inputs],
        description=description(product),
        group_name=product.domain,
        owners=product.owner.dagster_owners,
        kinds={engine_kind, "duckdb", "parquet"},
        tags=tags(product),
        metadata=metadata(product),
        code_version=code_version(product, implementation_files),
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=product.descriptor.sla.freshness_window),
        automation_condition=automation_condition(mesh, product),
    )
