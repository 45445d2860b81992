"""``mesh onboard dbt``: bring a standalone dbt-core project into the mesh as a new domain.

The project is built once in a scratch DuckDB (``dbt seed``, then ``dbt run``; no tests) to learn the
real column types of its models; models whose build fails fall back to the ``data_type`` their YAML
declares. Its models, seeds, macros and singular tests are copied under the domain's folders of the
mesh's dbt project, renamed where a name is already taken (dbt names are global), with every
reference rewritten to match (:mod:`onboard_names`); its dbt packages go to ``dbt_project/vendor/``.
Its sources read landed files, Parquet or CSV (``landing``). The public models become products with a
contract drafted from their columns; classification is left for the owner, so ``mesh check`` lists every column to
classify. Everything is staged and validated like ``mesh new`` before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from meshwork.authoring import (
    classify_draft,
    dbt_packages,
    external_dbt,
    onboard_fixtures,
    onboard_models,
    onboard_names,
)
from meshwork.authoring import templates as t
from meshwork.authoring.changeset import Changeset, ScaffoldError
from meshwork.authoring.scaffold import Result, check_new_domain, current_mesh, domain_files
from meshwork.authoring.templates import ColumnDraft
from meshwork.core.names import IDENTIFIER
from meshwork.model.descriptors import Owner, ProductKind
from meshwork.storage import dbt_project

_LANDING = {
    "parquet": "read_parquet('{{{{ var('mesh_sources', 'MESH_SOURCES') }}}}/{source}/{{name}}/*.parquet')",
    "csv": "read_csv('{{{{ var('mesh_sources', 'MESH_SOURCES') }}}}/{source}/{{name}}/*.csv', header = true)",
}
# dbt calls these by name for every model of the project: copied into the mesh they would change every domain.
_GLOBAL_MACROS = re.compile(r"\{%-?\s*macro\s+(generate_(schema|alias|database)_name)\b")
_COPIED = "# Copied from the dbt project '{project}' by `mesh onboard dbt` (its comments were not carried over).\n"


def _taken(project: Path) -> tuple[set[str], set[str], set[str]]:
    """dbt node names (models, seeds), source names and docs blocks already used in the mesh's dbt project."""
    dbt = project / "dbt_project"
    nodes = {p.stem for p in (dbt / "models").rglob("*.sql")} | {p.stem for p in (dbt / "seeds").rglob("*.csv")}
    sources = set()
    for file in (dbt / "models").rglob("*.yml"):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        sources |= {str(s.get("name")) for s in data.get("sources") or [] if isinstance(s, dict)}
    docs = {n for f in dbt.rglob("*.md") for n in onboard_names.docs_blocks(f.read_text(encoding="utf-8"))}
    return nodes, sources, docs


def _unique_names(names: list[str], taken: set[str], domain: str, what: str) -> dict[str, str]:
    renamed: dict[str, str] = {}
    for name in names:
        new = name if name not in taken else f"{domain}_{name}"
        if new in taken or new in renamed.values():
            raise ScaffoldError(f"the {what} '{name}' clashes with the mesh's dbt project even as '{new}'")
        renamed[name] = new
    return renamed


def rewrite_sql(text: str, models: dict[str, str], sources: dict[str, str]) -> str:
    return onboard_names.Renames(models, sources).text(text)


@dataclass
class _Product:
    model: str  # the model's name in the mesh
    name: str  # the product's name
    uid: str
    columns: list[ColumnDraft]  # the model's
    contract: list[ColumnDraft] = field(init=False)  # the same, named as the naming policy asks
    renamed: list[onboard_models.PortName] = field(init=False)  # at the port, the SQL unchanged

    def __post_init__(self) -> None:
        self.contract, self.renamed = onboard_models.conform(self.model, self.columns)


def _draft_columns(manifest: dict, uid: str, actual: list[tuple[str, str]] | None) -> list[ColumnDraft]:
    node = manifest["nodes"][uid]
    declared = node.get("columns") or {}
    if actual is None:
        actual = [(c["name"], c["data_type"]) for c in declared.values() if c.get("data_type")]
        if not actual or len(actual) != len(declared):
            raise ScaffoldError(
                f"cannot tell the columns of model '{node['name']}': it does not build on its own here and its "
                "YAML does not give every column a data_type"
            )
    tests: dict[str, set[str]] = {}
    for test in manifest["nodes"].values():
        if test["resource_type"] == "test" and test.get("attached_node") == uid and test.get("column_name"):
            tests.setdefault(test["column_name"], set()).add((test.get("test_metadata") or {}).get("name", ""))
    keys = [name for name, _ in actual if {"unique", "not_null"} <= tests.get(name, set())]
    drafts = []
    for name, physical in actual:
        if not IDENTIFIER.match(name):
            raise ScaffoldError(f"column '{name}' of model '{node['name']}' is not a safe name: alias it in lower case")
        checks = tests.get(name, set())
        drafts.append(
            ColumnDraft(
                name=name,
                physical_type=physical.upper(),
                logical_type=t.logical_type(physical),
                description=(declared.get(name) or {}).get("description") or None,
                required="not_null" in checks,
                unique="unique" in checks,
                primary_key=len(keys) == 1 and name in keys,
            )
        )
    return drafts


def onboard_dbt(
    project: Path,
    path: Path,
    domain: str,
    team: str,
    public: list[str] | None = None,
    email: str | None = None,
    packages: Path | None = None,
    landing: str = "parquet",
) -> Result:
    """``packages``: a folder of vendored dbt packages; ``landing``: the format its sources land in."""
    check_new_domain(project, domain, team, email)
    if landing not in _LANDING:
        raise ScaffoldError(f"landing format '{landing}' is not one of {', '.join(_LANDING)}")
    path = path.resolve()
    ext = external_dbt.read_project(path, packages.resolve() if packages else None)
    mesh = current_mesh(project)
    manifest, actual, samples = external_dbt.introspect(ext)
    models = {n["name"]: (uid, n) for uid, n in external_dbt.nodes(manifest, ext, "model").items()}
    seeds = {n["name"]: n for n in external_dbt.nodes(manifest, ext, "seed").values()}
    if not models:
        raise ScaffoldError(f"{path} has no models to onboard")
    wanted = public if public is not None else [m for m, (_, n) in models.items() if n.get("access") == "public"]
    unknown = sorted(set(wanted) - set(models))
    if unknown:
        raise ScaffoldError(f"no model named {', '.join(unknown)} in {path} (models: {', '.join(sorted(models))})")
    taken_nodes, taken_sources, taken_docs = _taken(project)
    rename = _unique_names([*models, *seeds], taken_nodes, domain, "model or seed")
    source_names = sorted({s["source_name"] for s in manifest["sources"].values() if s["package_name"] == ext.name})
    rename_sources = _unique_names(source_names, taken_sources, domain, "source")
    docs = sorted({d["name"] for d in (manifest.get("docs") or {}).values() if d.get("package_name") == ext.name})
    renames = onboard_names.Renames(rename, rename_sources, _unique_names(docs, taken_docs, domain, "docs block"))
    landed = external_dbt.seeds_of_sources(manifest, ext)
    disabled = {
        n["original_file_path"]: n["name"]
        for ns in (manifest.get("disabled") or {}).values()
        for n in ns
        if n.get("resource_type") == "seed" and n.get("package_name") == ext.name
    }

    products = []
    for model in wanted:
        uid, node = models[model]
        name = model.removeprefix(f"{domain}_")
        if not IDENTIFIER.match(name) or f"{domain}/{name}" in mesh.products:
            raise ScaffoldError(f"model '{model}' cannot become product '{domain}/{name}': rename it first")
        products.append(_Product(rename[model], name, uid, _draft_columns(manifest, uid, actual.get(model))))

    cs = Changeset(project)
    description = f"Onboarded from the dbt project '{ext.name}'. TODO: say which business area it covers."
    domain_files(cs, domain, team, email or f"{team}@example.com", description, seeds=bool(seeds), models=True)
    source_columns: onboard_fixtures.Columns = {}
    for s in manifest["sources"].values():
        declared = [(c["name"], c["data_type"]) for c in (s.get("columns") or {}).values() if c.get("data_type")]
        if found := actual.get(external_dbt.source_key(s["source_name"], s["name"])) or declared:
            source_columns[(s["source_name"], s["name"])] = found
    copied = _Copied(renames, set(disabled), landing, source_columns)
    _copy_project(cs, ext, manifest, domain, {p.uid: p for p in products}, copied)
    by_file = copied.described
    vendored = dbt_packages.vendor(cs, ext.packages)
    carried = dbt_packages.carry_vars(cs, dict(ext.variables))
    for p in products:
        owner = Owner(team=team, email=email or f"{team}@example.com")  # the descriptor's team and support
        _product_files(cs, manifest, domain, ext, p, rename_sources, models, by_file, owner)
    review = f"domains/{domain}/contracts/CLASSIFICATION_REVIEW.md"
    if products:  # a draft for the owner to decide from; nothing is written into the contracts
        by_uid = {p.uid: samples.get(manifest["nodes"][p.uid]["name"], {}) for p in products}
        cs.create(review, _classification_review(domain, products, by_uid))
    cs.validate(onboard_names.still_whole([*mesh.domains, domain], domain))
    cs.apply()

    result = Result(
        f"onboarded dbt project {ext.name} as domain",
        domain,
        [str(p) for p in cs.created],
        [str(p) for p in cs.updated],
    )
    result.notes += [
        f"dbt {kind} '{old}' is '{new}' in the mesh (the name was taken)"
        for kind, old, new in [
            *(("node", o, n) for o, n in rename.items() if o != n),
            *(("source", o, n) for o, n in rename_sources.items() if o != n),
            *(("docs block", o, n) for o, n in renames.docs.items() if o != n),
        ]
    ]
    result.notes += [n for p in products for n in onboard_models.describe(f"{domain}/{p.name}", p.renamed)]
    result.notes += [f"dbt package {p} vendored under dbt_project/vendor/" for p in vendored]
    result.notes += [f"dbt var '{v}' of the project set in dbt_project/dbt_project.yml" for v in carried]
    result.notes += [
        f"macro file {m} was not copied: it overrides dbt's {name}, which in the mesh would apply to every domain"
        for m, name in copied.macros.items()
    ]
    result.notes += [
        f"{u}: its columns are unknown here, so it needs that table's data in the mesh" for u in copied.untyped
    ]
    for seed_file, seed in disabled.items():
        source = landed.get(seed_file)
        where = (
            f"; it holds the data of source {rename_sources.get(source[0], source[0])}.{source[1]}: land it as "
            f"$MESH_HOME/sources/{rename_sources.get(source[0], source[0])}/{source[1]}/{seed}.{landing}"
            if source
            else ""
        )
        result.notes.append(f"seed '{seed}' ({seed_file}) is disabled in the project and was not copied{where}")
    if not products:
        result.notes.append("no model was marked public (--public m1,m2 or access: public): no products yet")
    result.notes.append("project-level model configs of its dbt_project.yml were not carried over")
    for p in products:
        result.next_steps.append(
            f"classify every column of {domain}/{p.name} in domains/{domain}/contracts/{p.name}.odcs.yaml "
            f"({', '.join(c.name for c in p.contract)}), starting from the draft in {review} (suggestions "
            "from column names and sampled values, not applied): `mesh check` lists each one until it is done"
        )
        if undocumented := [c.name for c in p.contract if not c.description]:
            result.next_steps.append(f"describe {domain}/{p.name}'s columns {', '.join(undocumented)}")
    if source_names:
        result.next_steps.append(
            f"land each source's export as {landing} files (*.{landing}) under $MESH_HOME/sources/<source>/<table>/ "
            f"(sources: {', '.join(rename_sources.values())})"
        )
    result.next_steps += [f"edit domains/{domain}/domain.yaml (description, owner email)", "mesh check"]
    return result


def _classification_review(domain: str, products: list[_Product], samples: external_dbt.Samples) -> str:
    """The review list of every product's columns (``samples`` by the product model's node id)."""
    intro = (
        f"# Classification to review: domain {domain}\n\nDrafted by `mesh onboard dbt` from column names "
        "and values sampled from the tables the project built. Nothing here is applied: decide each "
        "column, write it in the contract, then delete this file.\n\n"
    )
    return intro + "\n".join(
        classify_draft.review_list(
            f"{domain}/{p.name}",
            f"domains/{domain}/contracts/{p.name}.odcs.yaml",
            {
                c.name: classify_draft.suggest(c.name, samples.get(p.uid, {}).get(m.name, []))
                for c, m in zip(p.contract, p.columns, strict=True)
            },
        )
        + "".join(f"\nRenamed at the port: {line}.\n" for line in onboard_models.describe("the model", p.renamed))
        for p in products
    )


@dataclass
class _Copied:
    """How to copy the project, and what the copy found."""

    renames: onboard_names.Renames
    disabled: set[str]  # seed files not to copy
    landing: str
    source_columns: onboard_fixtures.Columns
    described: dict[str, str] = field(default_factory=dict)  # product model uid -> the mesh file describing it
    macros: dict[str, str] = field(default_factory=dict)  # macro file left out -> the dbt macro it overrides
    untyped: list[str] = field(default_factory=list)  # unit tests on sources whose columns are unknown


def _copy_project(
    cs: Changeset,
    ext: external_dbt.External,
    manifest: dict,
    domain: str,
    products: dict[str, _Product],
    copied: _Copied,
) -> None:
    """Copy models, seeds, macros and tests, filling ``copied``'s findings."""
    renames = copied.renames
    patches: dict[str, list[str]] = {}
    for uid, n in manifest["nodes"].items():
        if n.get("patch_path") and uid in products:
            patches.setdefault(n["patch_path"].split("://", 1)[-1], []).append(uid)
    folders = [
        *((d, f"dbt_project/models/{domain}") for d in ext.model_paths),
        *((d, f"dbt_project/seeds/{domain}") for d in ext.seed_paths),
        *((d, f"dbt_project/macros/{domain}") for d in ext.macro_paths),
        *((d, f"dbt_project/tests/{domain}") for d in ext.test_paths),
    ]
    for src_dir, dest_dir in folders:
        for file in sorted((ext.root / src_dir).rglob("*")):
            original = file.relative_to(ext.root).as_posix()
            if not file.is_file() or any(part.startswith(".") for part in file.relative_to(ext.root).parts):
                continue
            if original in copied.disabled:
                continue  # a disabled seed (often raw data behind a variable): said in the notes
            rel = file.relative_to(ext.root / src_dir)
            if file.suffix in (".sql", ".csv") and rel.stem in renames.nodes:
                rel = rel.with_name(renames.nodes[rel.stem] + file.suffix)
            dest = f"{dest_dir}/{rel.as_posix()}"
            text = file.read_text(encoding="utf-8")
            if file.suffix in (".sql", ".md"):
                if src_dir in ext.macro_paths and (m := _GLOBAL_MACROS.search(text)):
                    copied.macros[original] = m.group(1)
                    continue
                text = renames.text(text)
            elif file.suffix in (".yml", ".yaml"):
                text = _rewrite_yml(text, ext, products, copied)
                copied.described.update(dict.fromkeys(patches.get(original, []), dest))
            cs.create(dest, text)


def _rewrite_yml(text: str, ext: external_dbt.External, products: dict[str, _Product], copied: _Copied) -> str:
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        return text
    original = yaml.safe_load(text)
    copied.untyped += onboard_fixtures.typed_sources(data, copied.source_columns)
    data = copied.renames.yaml(data)
    changed = data != original
    for entry in data.get("models") or []:
        product = next((p for p in products.values() if p.model == entry.get("name")), None)
        if product is not None:
            onboard_models.productize(entry, product.columns)
            changed = True
    for source in data.get("sources") or []:
        meta = source.setdefault("meta", {})
        if "external_location" not in meta and "external_location" not in (source.get("config") or {}).get("meta", {}):
            # In the mesh a source is an operational system's export landed as files under $MESH_HOME/sources.
            meta["external_location"] = _LANDING[copied.landing].format(source=source["name"])
            changed = True
    if not changed:
        return text
    return _COPIED.format(project=ext.name) + yaml.safe_dump(data, sort_keys=False, width=120, allow_unicode=True)


def _product_files(
    cs: Changeset,
    manifest: dict,
    domain: str,
    ext: external_dbt.External,
    p: _Product,
    rename_sources: dict[str, str],
    models: dict[str, tuple[str, dict]],
    described: dict[str, str],
    owner: Owner,
) -> None:
    node = manifest["nodes"][p.uid]
    if p.uid not in described:  # the model had no YAML entry: one file next to its SQL, as in the mesh
        folder = (
            Path(f"dbt_project/models/{domain}")
            / Path(node["original_file_path"])
            .relative_to(next(d for d in ext.model_paths if node["original_file_path"].startswith(d)))
            .parent
        )
        drafted = t.dbt_model_yml(domain, p.name, p.model, p.columns)
        entries = yaml.safe_load(drafted)["models"]
        for entry in entries:
            onboard_models.quote_reserved(entry.get("columns") or [])
        existing = cs.read(folder / f"{p.model}.yml")  # e.g. a file of semantic models only
        if existing is not None or entries != yaml.safe_load(drafted)["models"]:
            merged = yaml.safe_load(existing or "") or {}
            merged["models"] = [*(merged.get("models") or []), *entries]
            drafted = _COPIED.format(project=ext.name) + yaml.safe_dump(merged, sort_keys=False, width=120)
        cs.write(folder / f"{p.model}.yml", drafted)
    purpose = node.get("description") or ""
    if len(purpose.strip()) < 20:
        purpose = f"TODO: describe {p.name} (onboarded from dbt model '{node['name']}' of '{ext.name}')."
    upstream = _upstream_resources(manifest, p.uid)
    kind = ProductKind.SOURCE_ALIGNED if upstream else ProductKind.AGGREGATE
    sources = [
        (rename_sources.get(s["source_name"], s["source_name"]), s["name"])
        for uid in upstream
        if (s := manifest["sources"].get(uid)) and IDENTIFIER.match(s["name"])
    ]
    model = p.model if p.model != p.name else None
    descriptor = t.descriptor(domain, p.name, kind, "dbt", model, purpose, [], "26h", sorted(set(sources)), owner)
    cs.create(f"domains/{domain}/products/{p.name}.yaml", onboard_models.with_port_columns(descriptor, p.renamed))
    title = p.name.replace("_", " ").capitalize()
    cs.create(f"domains/{domain}/contracts/{p.name}.odcs.yaml", t.contract(domain, p.name, title, purpose, p.contract))


def _upstream_resources(manifest: dict, uid: str) -> set[str]:
    """Sources and seeds a model reads, directly or through other models."""
    leaves = ("source.", "seed.")
    return {n for n in dbt_project.ancestors(manifest, uid, lambda n: not n.startswith(leaves)) if n.startswith(leaves)}
