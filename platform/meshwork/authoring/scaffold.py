"""``mesh new domain`` and ``mesh new product``: a new domain or data product that passes ``mesh check`` at once.

Every request is checked first (names, existing domains and products, input ports and versions);
then all files are staged in a :class:`~meshwork.authoring.changeset.Changeset`, validated in a scratch copy of
the project (the mesh loads, dbt parses, the dbt model matches its contract) and only then written.
A refused request writes nothing.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from meshwork.authoring import registration
from meshwork.authoring import templates as t
from meshwork.authoring.changeset import Changeset, ScaffoldError
from meshwork.authoring.templates import ColumnDraft, Input
from meshwork.core.errors import MeshDefinitionError
from meshwork.core.names import IDENTIFIER, TEAM, parse_major
from meshwork.governance import access
from meshwork.model.classification import PII_CLASSES
from meshwork.model.descriptors import InputPort, ProductKind, Visibility
from meshwork.model.loader import load_mesh, workspace_domains
from meshwork.model.mesh import Mesh

RESERVED_DOMAINS = {"sources", "platform", "meshwork"}  # asset-key prefix of dbt sources; platform location
_EMAIL = re.compile(r"^[^@\s,{}\[\]'\"]+@[^@\s,{}\[\]'\"]+\.[^@\s,{}\[\]'\"]+$")
_INPUT = re.compile(r"^(?P<domain>[a-z][a-z0-9_]*)/(?P<product>[a-z][a-z0-9_]*)(@(?P<version>v\d+))?$")


@dataclass
class Result:
    """What a scaffolding command did, for people (``describe``) and for CI (``--json``)."""

    action: str
    subject: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    access_requests: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"ok": True, **asdict(self)}

    def describe(self) -> str:
        lines = [f"{self.action}: {self.subject}"]
        lines += [f"  created  {p}" for p in self.created]
        lines += [f"  updated  {p}" for p in self.updated]
        for r in self.access_requests:
            lines.append(f"  access   requested {r['port']} for {r['consumer']} (request {r['id']}, {r['status']})")
        lines += [f"  note     {n}" for n in self.notes]
        if self.next_steps:
            lines.append("next steps:")
            lines += [f"  {i}. {s}" for i, s in enumerate(self.next_steps, 1)]
        return "\n".join(lines)


def _name(value: str, what: str) -> str:
    if not IDENTIFIER.match(value):
        raise ScaffoldError(
            f"'{value}' is not a valid {what} name: use lower-case letters, digits and '_', starting with a letter "
            "(at most 63 characters)"
        )
    if keyword.iskeyword(value):
        raise ScaffoldError(f"'{value}' is a Python keyword and cannot name a {what}")
    return value


def current_mesh(project: Path) -> Mesh:
    try:
        return load_mesh(project, check_grants=False)
    except MeshDefinitionError as exc:
        raise ScaffoldError(f"the mesh does not load, fix it first:\n{exc}") from exc


def check_new_domain(project: Path, domain: str, team: str, email: str | None) -> None:
    _name(domain, "domain")
    if domain in RESERVED_DOMAINS:
        raise ScaffoldError(f"'{domain}' is reserved by the platform; choose another domain name")
    if not TEAM.match(team):
        raise ScaffoldError(f"'{team}' is not a valid team name: lower-case letters, digits, '_' and '-'")
    if email is not None and not _EMAIL.match(email):
        raise ScaffoldError(f"'{email}' is not an email address")
    if (project / "domains" / domain).exists():
        raise ScaffoldError(f"domain '{domain}' already exists (domains/{domain}/)")
    entries, _ = workspace_domains(project / "workspace.yaml")
    if domain in {d for d, _ in entries} | {loc for _, loc in entries}:
        raise ScaffoldError(f"'{domain}' is already a code location in workspace.yaml")
    if (project / "dbt_project" / "models" / domain).exists():
        raise ScaffoldError(f"dbt_project/models/{domain}/ already exists; onboard it with `mesh onboard dbt`")
    groups = yaml.safe_load((project / "dbt_project/models/_groups.yml").read_text(encoding="utf-8")) or {}
    if domain in {g.get("name") for g in groups.get("groups") or []}:
        raise ScaffoldError(f"dbt group '{domain}' already exists in dbt_project/models/_groups.yml")


def domain_files(cs: Changeset, domain: str, team: str, email: str, description: str, **register: bool) -> None:
    """The domain's files, and its registration (``register``: ``seeds``, ``models``, see ``register_domain``)."""
    base = f"domains/{domain}"
    cs.create(f"{base}/__init__.py", t.DOMAIN_INIT.format(domain=domain))
    cs.create(f"{base}/definitions.py", t.DEFINITIONS.format(domain=domain))
    cs.create(
        f"{base}/domain.yaml",
        t.DOMAIN_YAML.format(domain=domain, description=t.quoted(description), team=team, email=email),
    )
    cs.create(f"{base}/products/__init__.py", t.PRODUCTS_INIT.format(domain=domain))
    cs.create(f"{base}/contracts/.gitkeep", "")
    registration.register_domain(cs, domain, team, email, **register)


def new_domain(
    project: Path, domain: str, team: str, email: str | None = None, description: str | None = None
) -> Result:
    check_new_domain(project, domain, team, email)
    current_mesh(project)
    cs = Changeset(project)
    placeholder = description is None
    description = description or f"TODO: say which business area the {domain} domain covers and what it publishes."
    domain_files(cs, domain, team, email or f"{team}@example.com", description)
    cs.validate(registration.check_project([domain]))
    cs.apply()
    result = Result("created domain", domain, [str(p) for p in cs.created], [str(p) for p in cs.updated])
    if placeholder or email is None:
        result.next_steps.append(f"edit domains/{domain}/domain.yaml: the description and the owner's contact email")
    result.next_steps += [
        f"add a product: mesh new product {domain}/<name> --kind aggregate --impl dbt --input <domain>/<product>@v1",
        "mesh check",
    ]
    return result


def _inputs(mesh: Mesh, consumer_domain: str, specs: list[str]) -> list[Input]:
    found: list[Input] = []
    for spec in specs:
        m = _INPUT.match(spec)
        if not m:
            raise ScaffoldError(f"'{spec}' is not an input port: write it as <domain>/<product>@v<major>")
        key = f"{m['domain']}/{m['product']}"
        producer = mesh.products.get(key)
        if producer is None:
            domain = mesh.domains.get(m["domain"])
            known = (
                f"; '{m['domain']}' publishes {', '.join(sorted(p.name for p in domain.products)) or 'nothing yet'}"
                if domain
                else f"; known domains: {', '.join(sorted(mesh.domains))}"
            )
            raise ScaffoldError(f"unknown input product '{key}'{known}")
        major = parse_major(m["version"]) if m["version"] else producer.current_port.major
        port = producer.port(major)
        if port is None:
            have = ", ".join(p.version for p in producer.ports)
            raise ScaffoldError(f"'{key}' has no output port v{major} (it publishes {have})")
        if port.visibility == Visibility.PRIVATE and producer.domain != consumer_domain:
            raise ScaffoldError(f"'{port.ref}' is private to domain '{producer.domain}' and cannot be read from here")
        if port.spec.is_removed(mesh.today):
            raise ScaffoldError(f"'{port.ref}' was removed after {port.spec.removed_after}; pin a newer major")
        if any(i.port.product == key for i in found):
            raise ScaffoldError(f"input '{key}' is given twice")
        found.append(Input(InputPort.of(key, f"v{major}"), port, m["product"]))
    names = [i.alias for i in found]
    return [Input(i.port, i.producer, f"{i.port.domain}_{i.alias}") if names.count(i.alias) > 1 else i for i in found]


def _columns_from(inputs: list[Input]) -> tuple[list[ColumnDraft], bool]:
    """The first input's non-PII columns (a pass-through to start from), or one placeholder column."""
    if inputs:
        source = inputs[0].producer
        columns = [
            ColumnDraft(
                name=c.name,
                physical_type=c.physical_type,
                logical_type=c.logical_type or t.logical_type(c.physical_type),
                description=c.description or f"From {source.ref}.",
                classification=c.classification,
                required=c.required,
                unique=c.unique,
                primary_key=c.primary_key,
                primary_key_position=c.prop.primaryKeyPosition,
            )
            for c in source.contract.columns
            if (c.classification or "").lower() not in PII_CLASSES
        ]
        if columns:
            return columns, True
    return [
        ColumnDraft(
            name="id",
            physical_type="BIGINT",
            logical_type="integer",
            description="TODO: replace with the product's real columns.",
            classification="internal",
            primary_key=True,
            unique=True,
        )
    ], False


def _freshness(inputs: list[Input], mesh: Mesh) -> str:
    windows = [mesh.products[i.port.product].descriptor.sla.freshness_window for i in inputs]
    hours = int((max(windows, default=timedelta(hours=22)) + timedelta(hours=4)).total_seconds() // 3600)
    return f"{max(hours, 1)}h"


def new_product(
    project: Path,
    key: str,
    kind: str,
    engine: str,
    input_specs: list[str],
    purpose: str | None = None,
    source_spec: str | None = None,
    access_reason: str | None = None,
) -> Result:
    domain, _, name = key.partition("/")
    if not name or "/" in name:
        raise ScaffoldError(f"'{key}' is not a product: write it as <domain>/<name>")
    _name(domain, "domain")
    _name(name, "product")
    product_kind = ProductKind(kind)
    if engine not in ("dbt", "python"):
        raise ScaffoldError(f"unknown implementation '{engine}': use dbt or python")
    if name.startswith(f"{domain}_"):
        raise ScaffoldError(f"the product name repeats its domain; call it '{name[len(domain) + 1 :]}'")
    mesh = current_mesh(project)
    if domain not in mesh.domains:
        raise ScaffoldError(
            f"unknown domain '{domain}' (known: {', '.join(sorted(mesh.domains))}); "
            f"create it with `mesh new domain {domain} --owner <team>`"
        )
    descriptor = Path(f"domains/{domain}/products/{name}.yaml")
    contract = Path(f"domains/{domain}/contracts/{name}.odcs.yaml")
    for rel in (descriptor, contract, Path(f"domains/{domain}/products/{name}.py")):
        if key in mesh.products or (project / rel).exists():
            raise ScaffoldError(f"product '{key}' already exists ({rel})")
    inputs = _inputs(mesh, domain, input_specs)
    source = None
    if product_kind == ProductKind.SOURCE_ALIGNED:
        system, _, table = (source_spec or f"{domain}/{name}").partition("/")
        source = (_name(system, "source system"), _name(table or name, "source table"))
    elif source_spec:
        raise ScaffoldError("--source is for source-aligned products (they ingest an operational system)")
    models = registration.dbt_models(project)
    model = None
    if engine == "dbt" and name in models:
        model = f"{domain}_{name}"  # dbt model names are global across domains; the product keeps its name
        if model in models:
            raise ScaffoldError(f"dbt models '{name}' and '{model}' already exist; choose another product name")
    columns, passthrough = _columns_from(inputs)
    placeholder = purpose is None
    purpose = purpose or f"TODO: what {name} holds (one row per what), who it is for and how it is built."

    cs = Changeset(project)
    cs.create(
        descriptor,
        t.descriptor(
            domain,
            name,
            product_kind,
            engine,
            model,
            purpose,
            inputs,
            _freshness(inputs, mesh),
            [source] if source else [],
            mesh.domains[domain].descriptor.owner,
        ),
    )
    title = name.replace("_", " ").capitalize()
    cs.create(contract, t.contract(domain, name, title, purpose, columns))
    python_files = []
    if engine == "dbt":
        model_name = model or name
        same_domain = {
            i.port.product: (mesh.products[i.port.product].descriptor.implementation.model or i.port.name)
            for i in inputs
            if i.port.domain == domain and mesh.products[i.port.product].descriptor.implementation.engine == "dbt"
        }
        registration.dbt_folder(cs, domain)
        folder = f"dbt_project/models/{domain}/marts"
        cs.create(
            f"{folder}/{model_name}.sql",
            t.dbt_model_sql(domain, name, columns, inputs, passthrough, source, same_domain),
        )
        cs.create(f"{folder}/{model_name}.yml", t.dbt_model_yml(domain, name, model_name, columns))
        if source:
            registration.landing_source(cs, domain, *source)
        for i in inputs:
            if i.port.product not in same_domain:
                registration.port_source(cs, i.port.domain, i.port.name, i.port.major)
    else:
        module = f"domains/{domain}/products/{name}.py"
        cs.create(module, t.python_module(domain, name, purpose, columns, inputs, passthrough, source))
        python_files.append(Path(module))
        if cs.read(f"domains/{domain}/products/__init__.py") is None:
            cs.create(f"domains/{domain}/products/__init__.py", t.PRODUCTS_INIT.format(domain=domain))
    test_file = f"tests/products/test_{domain}_{name}.py"
    if cs.read("tests/products/__init__.py") is None:
        cs.create("tests/products/__init__.py", '"""Tests generated with each product by `mesh new product`."""\n')
    cs.create(test_file, t.product_test(key, inputs, source))
    cs.validate(registration.check_project([domain], python_files))
    cs.apply()

    result = Result("created product", key, [str(p) for p in cs.created], [str(p) for p in cs.updated])
    if model:
        result.notes.append(f"a dbt model named '{name}' exists in another domain: this one is '{model}'")
    try:
        reason = access_reason or (
            purpose if not placeholder else f"{key} reads it as an input (opened by mesh new product)"
        )
        result.access_requests = _request_access(project, key, inputs, reason)
    except BaseException:
        cs.revert()
        raise
    upstream = _upstream(mesh, {i.port.domain for i in inputs} - {domain})
    result.next_steps = _product_next_steps(
        domain, name, engine, model, placeholder, passthrough, inputs, source, result.access_requests, test_file
    ) + [f"mesh check, then mesh build {' '.join(f'--domain {d}' for d in [*upstream, domain])} (or mesh build)"]
    return result


def _request_access(project: Path, consumer: str, inputs: list[Input], reason: str) -> list[dict]:
    """Open an access request for every restricted input this product holds no grant for."""
    restricted = [
        i for i in inputs if i.producer.visibility == Visibility.RESTRICTED and i.port.domain != consumer.split("/")[0]
    ]
    if not restricted:
        return []
    mesh = load_mesh(project, check_grants=False)
    made = []
    for i in restricted:
        port = mesh.products[i.port.product].port(i.port.major)
        if port is None or mesh.grant(consumer, port) is not None:
            continue
        try:
            request = access.request(mesh, consumer, port.ref, reason)
        except access.AccessError as exc:  # e.g. a request left from an earlier product of this name
            made.append({"id": None, "consumer": consumer, "port": port.ref, "status": f"not opened: {exc}"})
            continue
        owner = mesh.products[i.port.product].owner
        made.append({**asdict(request), "owner": owner.team, "owner_email": owner.email})
    return made


def _product_next_steps(
    domain: str,
    name: str,
    engine: str,
    model: str | None,
    placeholder: bool,
    passthrough: bool,
    inputs: list[Input],
    source: tuple[str, str] | None,
    requests: list[dict],
    test_file: str,
) -> list[str]:
    steps = []
    for r in requests:
        if r.get("id"):
            steps.append(
                f"{r['port']} is restricted: ask {r.get('owner')} ({r.get('owner_email')}) to approve "
                f"request {r['id']} "
                f"(`mesh access approve {r['id']} --by <name>`); until then `mesh check` and every code location "
                "report the missing grant"
            )
    impl = (
        f"dbt_project/models/{domain}/marts/{model or name}.sql (and its columns in {model or name}.yml)"
        if engine == "dbt"
        else f"domains/{domain}/products/{name}.py"
    )
    what = f"a pass-through of {inputs[0].port.ref}'s non-PII columns" if passthrough else "a placeholder"
    steps.append(f"write the product's logic in {impl}; it starts as {what}")
    steps.append(
        f"edit domains/{domain}/contracts/{name}.odcs.yaml to match: columns, descriptions, classification "
        "(public, internal, confidential, pii, sensitive-pii), keys and quality rules"
    )
    if placeholder:
        steps.append(f"replace the TODO purpose in domains/{domain}/products/{name}.yaml (and set status: active)")
    if source:
        steps.append(f"land the {source[0]} export as Parquet files under $MESH_HOME/sources/{source[0]}/{source[1]}/")
    steps.append(f"run its test: .venv/bin/pytest {test_file}")
    return steps


def _upstream(mesh: Mesh, domains: set[str]) -> list[str]:
    """``domains`` and every domain they read from, producers first."""
    wanted = set(domains)
    todo = list(domains)
    while todo:
        for up in mesh.upstream_domains(todo.pop()):
            if up not in wanted:
                wanted.add(up)
                todo.append(up)
    return [d for d in mesh.domain_order() if d in wanted]
