"""The dbt packages an onboarded project installs, found on disk, never downloaded.

Meshwork's machines reach no dbt Hub and no git host, so ``dbt deps`` cannot run here. A ``local:``
package is read from its path. A hub, git, tarball or private package must be *vendored*: the folder
``dbt deps`` makes for it (its ``dbt_project.yml`` and macros) put under the project's own install path
(``dbt_packages/`` unless ``packages-install-path`` says otherwise) or under the folder given with
``--packages``. When one is missing, onboarding stops with one message that lists every missing package
and where to put it. In the mesh, the packages live in ``dbt_project/vendor/<name>/`` (the mesh's
``packages-install-path``), committed with the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from meshwork.authoring.changeset import Changeset, ScaffoldError
from meshwork.core import yamltext


@dataclass(frozen=True)
class Package:
    name: str  # the package's own dbt project name (its macros' namespace)
    root: Path
    spec: str  # what the project asked for, in words


def _spec(entry: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(kind, how it was asked for, the folder names it may be vendored under)."""
    if "local" in entry:
        return "local", f"local: {entry['local']}", []
    if "package" in entry:
        name = str(entry["package"])
        return "hub", f"{name} {entry.get('version', '')}".strip() + " (dbt Hub)", [name.split("/")[-1]]
    for kind in ("git", "tarball", "private"):
        if kind in entry:
            url = str(entry[kind]).rstrip("/").removesuffix(".git")
            base = url.split("/")[-1]
            names = {base, base.replace("-", "_"), base.removeprefix("dbt-").replace("-", "_")}
            rev = f"@{entry['revision']}" if entry.get("revision") else ""
            return kind, f"{entry[kind]}{rev} ({kind})", sorted(names)
    return "unknown", str(entry), []


def _project_name(folder: Path) -> str | None:
    config = folder / "dbt_project.yml"
    if not config.is_file():
        return None
    return str((yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("name", folder.name))


def _vendored(folders: list[Path]) -> dict[str, Path]:
    """Every vendored package under ``folders`` by its project name and by its folder name."""
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for sub in sorted(folder.iterdir()):
            if name := _project_name(sub):
                found.setdefault(name, sub)
                found.setdefault(sub.name, sub)
    return found


def resolve(project: Path, config: dict[str, Any], vendor_dir: Path | None) -> list[Package]:
    """The packages ``project`` installs, each found on disk; one ScaffoldError naming every missing one."""
    entries: list[tuple[str, dict[str, Any]]] = []
    for file in ("packages.yml", "dependencies.yml"):
        if (project / file).is_file():
            data = yaml.safe_load((project / file).read_text(encoding="utf-8")) or {}
            entries += [(file, e) for e in data.get("packages") or [] if isinstance(e, dict)]
    if not entries:
        return []
    install = project / str(config.get("packages-install-path", "dbt_packages"))
    vendored = _vendored([*([vendor_dir] if vendor_dir else []), install])
    found: list[Package] = []
    missing: list[str] = []
    for file, entry in entries:
        kind, spec, names = _spec(entry)
        if kind == "local":
            root = (project / str(entry["local"])).resolve()
            name = _project_name(root)
            if name is None:
                missing.append(f"{spec} in {file}: {root} has no dbt_project.yml")
            else:
                found.append(Package(name, root, spec))
            continue
        hit = next((vendored[n] for n in names if n in vendored), None)
        if hit is None:
            missing.append(f"{spec} in {file}")
        else:
            found.append(Package(_project_name(hit) or hit.name, hit, spec))
    if missing:
        where = f"{vendor_dir} (given with --packages)" if vendor_dir else f"{install}/"
        raise ScaffoldError(
            f"{project} needs dbt packages that cannot be downloaded here (no access to the dbt Hub or git "
            f"hosts): {'; '.join(missing)}. Vendor them: where the internet is reachable, run `dbt deps` in the "
            f"project and copy each folder it makes (one per package, with its dbt_project.yml) to {where}, "
            "or pass --packages DIR with those folders; then run the command again"
        )
    return found


def vendor(cs: Changeset, packages: tuple[Package, ...]) -> list[str]:
    """Copy the project's dbt packages to ``dbt_project/vendor/<name>/`` (the mesh's install path)."""
    done = []
    for package in packages:
        dest = f"dbt_project/vendor/{package.name}"
        if (cs.project / dest).exists():
            same = (cs.project / dest / "dbt_project.yml").read_text(encoding="utf-8") == (
                package.root / "dbt_project.yml"
            ).read_text(encoding="utf-8")
            if not same:
                raise ScaffoldError(
                    f"the mesh vendors another version of dbt package '{package.name}' ({dest}); one version "
                    "serves every domain: vendor the same one for this project"
                )
            continue
        for file in sorted(package.root.rglob("*")):
            rel = file.relative_to(package.root)
            if file.is_file() and not any(p.startswith(".") for p in rel.parts) and rel.parts[0] != "integration_tests":
                cs.create(f"{dest}/{rel.as_posix()}", file.read_text(encoding="utf-8"))
        done.append(f"'{package.name}' ({package.spec})")
    if done:
        config = cs.read("dbt_project/dbt_project.yml") or ""
        if "packages-install-path" not in config:
            cs.write(
                "dbt_project/dbt_project.yml",
                config.rstrip("\n") + "\n\n# dbt packages of onboarded projects, vendored (no `dbt deps`: "
                "nothing is downloaded)\npackages-install-path: vendor\n",
            )
    return done


def carry_vars(cs: Changeset, project_vars: dict[str, Any]) -> list[str]:
    """Add the onboarded project's ``vars`` to the mesh's ``dbt_project.yml`` (its packages read them,
    e.g. ``dbt_date:time_zone``). A var the mesh already sets to another value is refused: vars are global."""
    rel = "dbt_project/dbt_project.yml"
    text = cs.read(rel) or ""
    current = (yaml.safe_load(text) or {}).get("vars") or {}
    added = []
    for name, value in project_vars.items():
        if name in current:
            if current[name] != value:
                raise ScaffoldError(
                    f"the project sets dbt var '{name}' to {value!r}, the mesh's {rel} to {current[name]!r}: "
                    "vars are shared by every domain, so they must agree"
                )
            continue
        snippet = yaml.safe_dump({name: value}, default_flow_style=False, sort_keys=False)
        if "vars" not in (yaml.safe_load(text) or {}):
            text = text.rstrip("\n") + "\n\n# dbt vars of onboarded projects (shared by every domain)\nvars:\n"
            text += "".join(f"  {line}\n" for line in snippet.splitlines())
        else:
            inserted = yamltext.insert(text, ["vars"], snippet)
            if inserted is None:
                raise ScaffoldError(f"cannot add dbt var '{name}' to {rel} automatically: add it under vars: by hand")
            text = inserted
        added.append(name)
    if added:
        cs.write(rel, text)
    return added
