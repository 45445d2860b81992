"""A standalone dbt-core project, read from outside the mesh: its layout, its parse, and the real column
types of the models it builds (in a scratch DuckDB, seeds and models only)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

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


def read_project(path: Path) -> External:
    config_file = path / "dbt_project.yml"
    if not config_file.is_file():
        raise ScaffoldError(f"{path} is not a dbt project (no dbt_project.yml)")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    for packages in ("packages.yml", "dependencies.yml"):
        if (path / packages).is_file() and (yaml.safe_load((path / packages).read_text()) or {}).get("packages"):
            raise ScaffoldError(f"{path} installs dbt packages ({packages}); onboarding does not carry packages yet")
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
    )


Samples = dict[str, dict[str, list[object]]]  # model -> column -> sampled non-null values


def introspect(ext: External) -> tuple[dict, dict[str, list[tuple[str, str]]], Samples]:
    """The project's manifest, the columns (name, DuckDB type) of every model that builds, and up to
    50 sampled non-null values of each column (the evidence for a classification draft)."""
    with tempfile.TemporaryDirectory(prefix="mesh-onboard-") as tmp:
        root = Path(tmp)
        project = root / "project"
        shutil.copytree(ext.root, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".*"))
        database = root / "onboard.duckdb"
        profile = {
            ext.profile: {"target": "onboard", "outputs": {"onboard": {"type": "duckdb", "path": str(database)}}}
        }
        (root / "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        # Tests are left out: a failing test does not change a model's columns.
        command = [
            dbt_project.dbt_executable(),
            "build",
            "--resource-type",
            "seed",
            "--resource-type",
            "model",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(root),
            "--target-path",
            str(root / "target"),
        ]
        proc = subprocess.run(
            command,
            cwd=project,
            env=settings.subprocess_env({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}),
            capture_output=True,
            text=True,
        )
        manifest_file = root / "target" / "manifest.json"
        if not manifest_file.is_file():
            raise ScaffoldError(f"dbt cannot parse {ext.root}:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
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
            con.close()
    return manifest, columns, samples


def _sample(con: duckdb.DuckDBPyConnection, relation: str, names: list[str]) -> dict[str, list[object]]:
    rows = con.execute(f"SELECT * FROM {relation} USING SAMPLE 200 ROWS").fetchall()
    return {name: [r[i] for r in rows if r[i] is not None][:50] for i, name in enumerate(names)}


def nodes(manifest: dict, ext: External, kind: str) -> dict[str, dict]:
    return {
        uid: n
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == kind and n.get("package_name") == ext.name
    }
