"""A standalone dbt-core project, read from outside the mesh: its layout, its packages, its parse, and the
real column types of the models it builds in a scratch DuckDB.

The scratch build goes as a user of the project would run it: ``dbt seed`` first, then ``dbt run``, so
models that read seeds (through ``ref`` or through a ``source`` the seeds fill) build. A source table with
no data of its own that has a seed of the same name (enabled or not: many projects keep their raw data as
seeds switched on by a variable) is loaded from that seed's CSV before the models run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from meshwork.authoring import dbt_packages
from meshwork.authoring.changeset import ScaffoldError
from meshwork.core import settings
from meshwork.storage import dbt_project


@dataclass(frozen=True)
class External:
    root: Path
    name: str
    profile: str
    model_paths: list[str]
    seed_paths: list[str]
    macro_paths: list[str]
    test_paths: list[str]
    packages: tuple[dbt_packages.Package, ...] = ()
    variables: tuple[tuple[str, object], ...] = ()  # its dbt_project.yml's vars


def read_project(path: Path, vendor_dir: Path | None = None) -> External:
    config_file = path / "dbt_project.yml"
    if not config_file.is_file():
        raise ScaffoldError(f"{path} is not a dbt project (no dbt_project.yml)")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    packages = dbt_packages.resolve(path, config, vendor_dir)
    snapshots = [p for d in config.get("snapshot-paths", ["snapshots"]) for p in (path / d).rglob("*.sql")]
    if snapshots:
        raise ScaffoldError(f"{path} has dbt snapshots ({snapshots[0].name}); onboarding does not carry them yet")
    return External(
        root=path,
        name=str(config.get("name", path.name)),
        profile=str(config.get("profile", config.get("name", "default"))),
        model_paths=list(config.get("model-paths", ["models"])),
        seed_paths=list(config.get("seed-paths", ["seeds"])),
        macro_paths=list(config.get("macro-paths", ["macros"])),
        test_paths=list(config.get("test-paths", ["tests"])),
        packages=tuple(packages),
        variables=tuple((config.get("vars") or {}).items()),
    )


Samples = dict[str, dict[str, list[object]]]  # model -> column -> sampled non-null values


def introspect(ext: External) -> tuple[dict, dict[str, list[tuple[str, str]]], Samples]:
    """The project's manifest, the columns (name, DuckDB type) of every model that builds (and of every
    source table that has data, by :func:`source_key`), and up to 50 sampled non-null values of each
    model's columns (the evidence for a classification draft)."""
    with tempfile.TemporaryDirectory(prefix="mesh-onboard-") as tmp:
        root = Path(tmp)
        project = root / "project"
        shutil.copytree(ext.root, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".*"))
        # The packages are on disk already: dbt loads whatever is in its install path, with no `dbt deps`.
        for name in ("packages.yml", "dependencies.yml", "package-lock.yml"):
            (project / name).unlink(missing_ok=True)
        for package in ext.packages:
            shutil.copytree(package.root, project / "dbt_packages" / package.name, ignore=shutil.ignore_patterns(".*"))
        _set_install_path(project)
        database = root / "onboard.duckdb"
        profile = {
            ext.profile: {"target": "onboard", "outputs": {"onboard": {"type": "duckdb", "path": str(database)}}}
        }
        (root / "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        # Seeds first, as `dbt seed && dbt run`; tests are left out: a failing test changes no column.
        proc = _dbt(root, project, "seed")
        manifest_file = root / "target" / "manifest.json"
        if not manifest_file.is_file():
            raise ScaffoldError(f"dbt cannot parse {ext.root}:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        _sources_from_seeds(database, ext, manifest)
        _dbt(root, project, "run")
        columns: dict[str, list[tuple[str, str]]] = {}
        samples: Samples = {}
        if database.exists():
            con = duckdb.connect(str(database), read_only=True)
            for node in nodes(manifest, ext, "model").values():
                try:
                    described = con.execute(f"DESCRIBE {node['relation_name']}").fetchall()
                except duckdb.Error:
                    continue  # not built (e.g. its sources are elsewhere): the declared types are used
                columns[node["name"]] = [(r[0], r[1]) for r in described]
                samples[node["name"]] = _sample(con, node["relation_name"], [r[0] for r in described])
            for s in manifest["sources"].values():  # for the unit tests that feed a source (onboard_fixtures)
                try:
                    described = con.execute(f"DESCRIBE {s['relation_name']}").fetchall()
                except duckdb.Error:
                    continue
                columns[source_key(s["source_name"], s["name"])] = [(r[0], r[1]) for r in described]
            con.close()
    return manifest, columns, samples


def source_key(source: str, table: str) -> str:
    """The key of a source table's columns in :func:`introspect`'s answer (no model is named so)."""
    return f"source:{source}.{table}"


def _dbt(root: Path, project: Path, command: str) -> subprocess.CompletedProcess:
    args = ["--project-dir", str(project), "--profiles-dir", str(root), "--target-path", str(root / "target")]
    return subprocess.run(
        [dbt_project.dbt_executable(), command, *args],
        cwd=project,
        env=settings.subprocess_env({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}),
        capture_output=True,
        text=True,
    )


def _set_install_path(project: Path) -> None:
    config_file = project / "dbt_project.yml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    if config.get("packages-install-path", "dbt_packages") != "dbt_packages":
        config["packages-install-path"] = "dbt_packages"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def seeds_of_sources(manifest: dict, ext: External) -> dict[str, tuple[str, str]]:
    """Seed CSV (relative to the project) -> the (source, table) it holds the data of, by table name.

    Enabled and disabled seeds alike: many projects keep their raw data as seeds behind a variable."""
    seeds: dict[str, str] = {}
    for node in [*manifest["nodes"].values(), *(n for ns in (manifest.get("disabled") or {}).values() for n in ns)]:
        if node.get("resource_type") == "seed" and node.get("package_name") == ext.name:
            seeds.setdefault(node["name"], node["original_file_path"])
    return {
        seeds[s["name"]]: (s["source_name"], s["name"])
        for s in manifest["sources"].values()
        if s["package_name"] == ext.name and s["name"] in seeds
    }


def _sources_from_seeds(database: Path, ext: External, manifest: dict) -> None:
    """Load each source table that has no data from the seed of the same name (for the scratch build only)."""
    by_table = {table: csv for csv, table in seeds_of_sources(manifest, ext).items()}
    if not by_table:
        return
    con = duckdb.connect(str(database))
    try:
        for s in manifest["sources"].values():
            csv_file = by_table.get((s["source_name"], s["name"]))
            meta = {**(s.get("source_meta") or {}), **(s.get("meta") or {})}
            if csv_file is None or meta.get("external_location"):
                continue
            relation = s["relation_name"]
            try:
                con.execute(f"SELECT 1 FROM {relation} LIMIT 0")
                continue  # dbt seed loaded it already
            except duckdb.Error:
                pass
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{s["schema"]}"')
            con.execute(
                f"CREATE TABLE {relation} AS SELECT * FROM read_csv(?, header = true)", [str(ext.root / csv_file)]
            )
    finally:
        con.close()


def _sample(con: duckdb.DuckDBPyConnection, relation: str, names: list[str]) -> dict[str, list[object]]:
    rows = con.execute(f"SELECT * FROM {relation} USING SAMPLE 200 ROWS").fetchall()
    return {name: [r[i] for r in rows if r[i] is not None][:50] for i, name in enumerate(names)}


def nodes(manifest: dict, ext: External, kind: str) -> dict[str, dict]:
    return {
        uid: n
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == kind and n.get("package_name") == ext.name
    }
