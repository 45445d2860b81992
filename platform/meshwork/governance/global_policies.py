"""The platform's global policies: every domain follows them."""

from __future__ import annotations

from pathlib import Path

from meshwork.governance.policies import GovernanceContext, policy
from meshwork.model.classification import is_pii
from meshwork.model.descriptors import Visibility
from meshwork.ports import masking
from meshwork.storage import dbt_project

CLASSIFICATIONS = {"public", "internal", "confidential", "pii", "sensitive-pii"}


@policy("ownership", "Every product has an accountable team that consumers can contact.")
def ownership(ctx: GovernanceContext):
    for p in ctx.mesh.products.values():
        if not p.owner.email:
            yield p.key, f"owner team '{p.owner.team}' has no contact email", p.path


@policy("documentation", "A product is only discoverable if it says what it is, and what each column means.")
def documentation(ctx: GovernanceContext):
    for p in ctx.mesh.products.values():
        if len(p.descriptor.description.purpose.strip()) < 20:
            yield p.key, "description.purpose must explain the product in at least 20 characters", p.path
        for port in p.ports:
            for c in port.contract.columns:
                if not (c.description or "").strip():
                    yield p.key, f"column '{c.name}' of {port.ref} has no description", port.contract.path


@policy("classification", "Masking, access and retention depend on knowing which columns hold what.")
def classification(ctx: GovernanceContext):
    for p in ctx.mesh.products.values():
        for port in p.ports:
            for c in port.contract.columns:
                if (c.classification or "").lower() not in CLASSIFICATIONS:
                    yield (
                        p.key,
                        f"column '{c.name}' of {port.ref} is classified {c.classification!r}; use one of "
                        f"{sorted(CLASSIFICATIONS)}",
                        port.contract.path,
                    )


@policy("pii-not-public", "PII must never be readable by a consumer that holds no grant for it.")
def pii_not_public(ctx: GovernanceContext):
    for p in ctx.mesh.products.values():
        for port in p.ports:
            pii = [c.name for c in port.contract.columns if is_pii(c)]
            if pii and port.visibility == Visibility.PUBLIC:
                yield (
                    p.key,
                    f"{port.ref} is public but holds PII columns {pii}: make it restricted (readers need a "
                    "grant) or drop them",
                    p.path,
                )


@policy("pii-retention", "Personal data may be kept only as long as a declared purpose needs it (GDPR Art. 5(1)(e)).")
def pii_retention(ctx: GovernanceContext):
    for p in ctx.mesh.products.values():
        holds_pii = any(is_pii(c) for port in p.ports for c in port.contract.columns)
        if holds_pii and not p.descriptor.retention:
            yield p.key, "the product holds PII but declares no retention period (retention: <days>d)", p.path


@policy("ports-only", "Domains depend on each other only through declared output ports, never on internals.")
def ports_only(ctx: GovernanceContext):
    products = ctx.mesh.products
    for domain, specs in ctx.asset_specs.items():
        for spec in specs:
            if spec.group_name != domain:
                continue  # a placeholder for another location's asset, not defined here
            consumer = products.get("/".join(spec.key.path))
            declared = {i.product for i in consumer.inputs} if consumer else set()
            for dep in spec.deps:
                key = "/".join(dep.asset_key.path)
                target_domain = dep.asset_key.path[0]
                if target_domain in (domain, "sources"):
                    continue
                target = products.get(key)
                who = consumer.key if consumer else "/".join(spec.key.path)
                if target is None:
                    yield who, f"depends on {key}, which is not a data product of domain '{target_domain}'", None
                elif key not in declared:
                    yield (
                        who,
                        f"depends on {key} without declaring it in inputPorts",
                        consumer.path if consumer else None,
                    )
                elif all(port.visibility == Visibility.PRIVATE for port in target.ports):
                    yield who, f"depends on {key}, which is private to domain '{target_domain}'", None
    # dbt lets a model ref() another group's public model; in the mesh that would read the other
    # domain's private warehouse, so it must go through the port source instead.
    manifest = ctx.dbt_manifest
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        for parent_id in dbt_project.parents(node):
            parent = manifest["nodes"].get(parent_id)
            if parent and parent["resource_type"] == "model" and parent.get("group") != node.get("group"):
                yield (
                    f"{node.get('group')}/{node['name']}",
                    f"dbt model '{node['name']}' reads {parent.get('group')}'s model '{parent['name']}' with ref(); "
                    f"read its output port with source('port_{parent.get('group')}', '{parent['name']}_v<N>')",
                    Path("dbt_project") / node["original_file_path"],
                )


@policy("naming", "Consistent names let people guess columns they have never seen.")
def naming(ctx: GovernanceContext):
    for p in ctx.mesh.products.values():
        if p.name.startswith(f"{p.domain}_"):
            yield p.key, f"the product name repeats its domain; call it '{p.name[len(p.domain) + 1 :]}'", p.path
        for port in p.ports:
            for c in port.contract.columns:
                kind = c.physical_type.upper()
                if kind.startswith("TIMESTAMP") and not c.name.endswith(("_at", "_ts")):
                    yield p.key, f"timestamp column '{c.name}' should end in _at or _ts", port.contract.path
                if kind == "DATE" and not c.name.endswith(("_date", "_on")):
                    yield p.key, f"date column '{c.name}' should end in _date or _on", port.contract.path
                if kind == "BOOLEAN" and not c.name.startswith(("is_", "has_")):
                    yield p.key, f"boolean column '{c.name}' should start with is_ or has_", port.contract.path


@policy("masking", "A masking strategy that does not exist would let PII through unmasked.")
def masking_strategies(ctx: GovernanceContext):
    for p in ctx.mesh.products.values():
        for port in p.ports:
            for c in port.contract.columns:
                rule = masking.strategy(c)
                if rule and not masking.is_valid_strategy(rule):
                    yield (
                        p.key,
                        f"column '{c.name}' of {port.ref} asks for masking '{rule}'; use one of "
                        f"{list(masking.STRATEGIES)}",
                        port.contract.path,
                    )
