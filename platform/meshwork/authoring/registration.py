"""Register a domain in the project's shared files, and validate a change to the project.

A domain is a code location in ``workspace.yaml``, a dbt group with its owner in
``dbt_project/models/_groups.yml`` and a folder config in ``dbt_project/dbt_project.yml``; its
ports are dbt sources ``port_<domain>`` in ``dbt_project/models/_ports/<domain>.yml``. The entries
are added as text (comments survive) and each edit is proven by parsing the result.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from meshwork.authoring import templates as t
from meshwork.authoring.changeset import Changeset, ScaffoldError
from meshwork.core import yamlsafe, yamltext
from meshwork.governance.validation import validate_project
from meshwork.model.loader import workspace_domains
from meshwork.storage import dbt_project


def dbt_parse(dbt_dir: Path) -> dict:
    """Parse a dbt project into a manifest kept inside it (never the checkout's own target/)."""
    env = {"MESH_PROJECT_DIR": str(dbt_dir.parent), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    manifest = dbt_project.parse(dbt_dir, dbt_dir / "target", env)
    return json.loads(manifest.read_text(encoding="utf-8"))


def check_project(domains: list[str], python_files: Sequence[Path] = ()) -> Callable[[Path], list[str]]:
    """A check for :meth:`Changeset.validate`: the changed project loads, parses and matches its contracts.

    The same :func:`validate_project` as `mesh check`, on the staged copy, without the policies (they
    import the checkout's own ``domains.*.policies``).
    """

    def check(root: Path) -> list[str]:
        report = validate_project(
            root,
            domains=domains,
            check_grants=False,
            manifest=lambda: dbt_parse(root / "dbt_project"),
            policies=False,
        )
        if report.mesh is None:
            return report.problems
        registered = {d for d, _ in workspace_domains(root / "workspace.yaml")[0]}
        problems = [f"domain '{d}' is not registered in workspace.yaml" for d in domains if d not in registered]
        for rel in python_files:
            try:
                ast.parse((root / rel).read_text(encoding="utf-8"), filename=str(rel))
            except SyntaxError as exc:
                problems.append(f"{rel}: {exc}")
        return problems + report.problems

    return check


def _edit(cs: Changeset, rel: str, path: list[str], snippet: str, expect, after_item=None) -> None:
    """Insert ``snippet`` into a YAML file as text; ``expect(old, new)`` proves the parsed meaning."""
    before = cs.read(rel)
    if before is None:
        raise ScaffoldError(f"{rel} does not exist")
    after = yamltext.insert(before, path, snippet, after_item)
    try:
        ok = after is not None and expect(yamlsafe.loads(before) or {}, yamlsafe.loads(after) or {})
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise ScaffoldError(
            f"cannot add this entry to {rel} automatically (its layout is unusual); add it under "
            f"{'.'.join(path)} by hand and run the command again:\n{snippet}"
        )
    cs.write(rel, after)  # type: ignore[arg-type]


def register_domain(
    cs: Changeset, domain: str, team: str, email: str, seeds: bool = False, models: bool = False
) -> None:
    """Register ``domain`` as a code location and a dbt group; its dbt folder config too if ``models``."""
    entry = {"python_module": {"module_name": f"domains.{domain}.definitions", "location_name": domain}}
    _edit(
        cs,
        "workspace.yaml",
        ["load_from"],
        t.WORKSPACE_ENTRY.format(domain=domain),
        lambda old, new: (
            new["load_from"] == _inserted_after_domains(old["load_from"], entry)
            and {k: v for k, v in new.items() if k != "load_from"} == {k: v for k, v in old.items() if k != "load_from"}
        ),
        after_item=lambda text: "domains." in text,
    )
    group = {"name": domain, "owner": {"name": team, "email": email}}
    _edit(
        cs,
        "dbt_project/models/_groups.yml",
        ["groups"],
        t.DBT_GROUP.format(domain=domain, team=team, email=email),
        lambda old, new: new == {**old, "groups": [*old["groups"], group]},
    )
    if models:
        dbt_folder(cs, domain, seeds=seeds)


def dbt_models(project: Path) -> dict[str, Path]:
    """Every dbt model of the project by name (dbt model names are global across domains)."""
    models = project / "dbt_project" / "models"
    return {p.stem: p.relative_to(project) for p in models.rglob("*.sql")}


def dbt_folder(cs: Changeset, domain: str, seeds: bool = False) -> None:
    """Give ``domain``'s dbt folder its group in ``dbt_project.yml`` (models, and seeds if asked).

    Added with the domain's first dbt model, not with the domain: dbt warns about every configured path
    that holds no model, so a Python-only domain has none."""
    sections = [("models", t.DBT_MODELS_CONFIG)] + ([("seeds", t.DBT_SEEDS_CONFIG)] if seeds else [])
    for section, template in sections:
        config = yaml.safe_load(template.format(domain=domain))
        current = yaml.safe_load(cs.read("dbt_project/dbt_project.yml") or "") or {}
        if domain in ((current.get(section) or {}).get("meshwork") or {}):
            continue
        if section not in current:
            text = cs.read("dbt_project/dbt_project.yml") or ""
            cs.write("dbt_project/dbt_project.yml", text.rstrip("\n") + f"\n\n{section}:\n  meshwork:\n")
        _edit(
            cs,
            "dbt_project/dbt_project.yml",
            [section, "meshwork"],
            template.format(domain=domain),
            lambda old, new, s=section, c=config: (
                new[s]["meshwork"] == {**(old[s]["meshwork"] or {}), **c}
                and {k: v for k, v in new.items() if k != s} == {k: v for k, v in old.items() if k != s}
            ),
        )


def _inserted_after_domains(entries: list, entry: dict) -> list:
    last = max(
        (i for i, e in enumerate(entries) if "domains." in str((e or {}).get("python_module", ""))), default=None
    )
    at = len(entries) if last is None else last + 1
    return [*entries[:at], entry, *entries[at:]]


def landing_source(cs: Changeset, domain: str, system: str, table: str) -> None:
    rel = f"dbt_project/models/{domain}/_{system}__sources.yml"
    if cs.read(rel) is None:
        cs.create(rel, t.LANDING_SOURCES.format(system=system, table=table))
        return
    _edit(
        cs,
        rel,
        ["sources", "tables"],
        f"- name: {table}\n",
        lambda old, new: (
            [x["name"] for x in new["sources"][0]["tables"]]
            == [*[x["name"] for x in old["sources"][0]["tables"]], table]
        ),
    )


def port_source(cs: Changeset, domain: str, product: str, major: int) -> None:
    """Make sure ``source('port_<domain>', '<product>_v<major>')`` exists for dbt consumers."""
    rel = f"dbt_project/models/_ports/{domain}.yml"
    table = f"{product}_v{major}"
    text = cs.read(rel)
    if text is None:
        cs.create(
            rel,
            t.PORTS_FILE.format(domain=domain)
            + _indented(t.PORT_TABLE, 6).format(domain=domain, product=product, major=major),
        )
        return
    data = yaml.safe_load(text) or {}
    sources = [s for s in data.get("sources") or [] if s.get("name") == f"port_{domain}"]
    if sources and table in {x.get("name") for x in sources[0].get("tables") or []}:
        return
    expected = {"name": table, "description": f"{domain}/{product}@v{major}"}
    _edit(
        cs,
        rel,
        ["sources", "tables"],
        t.PORT_TABLE.format(domain=domain, product=product, major=major),
        lambda old, new: new["sources"][0]["tables"] == [*(old["sources"][0].get("tables") or []), expected],
    )


def _indented(text: str, n: int) -> str:
    return "".join(" " * n + line if line.strip() else line for line in text.splitlines(keepends=True))
