"""The mesh's dbt project parses without a warning, and dbt's per-user file is not part of it.

dbt warned on every run about configured paths without models (the Python-only domains) and the
project named a macro folder that did not exist; `.user.yml` (dbt's per-machine id) was tracked.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from meshwork.storage import dbt_project
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # runs `dbt parse`


def test_a_clean_parse_of_the_project_prints_no_warning(project: Path, tmp_path: Path):
    dbt = project / "dbt_project"
    proc = subprocess.run(
        [
            dbt_project.dbt_executable(),
            "--no-use-colors",
            "parse",
            "--no-partial-parse",
            "--project-dir",
            str(dbt),
            "--profiles-dir",
            str(dbt),
            "--target-path",
            str(tmp_path / "target"),
            "--vars",
            json.dumps(dbt_project.dbt_vars(None)),
        ],
        cwd=dbt,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines() if "[WARNING]" in line or "Warning" in line]
    assert warnings == [], "\n".join(warnings)


def test_every_path_the_project_names_exists():
    config = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text(encoding="utf-8"))
    for key in ("model-paths", "macro-paths", "seed-paths", "test-paths", "snapshot-paths", "analysis-paths"):
        for folder in config.get(key, []):
            assert (REPO / "dbt_project" / folder).is_dir(), f"dbt_project.yml {key} names {folder}/: missing"


def test_dbt_user_file_is_neither_tracked_nor_trackable():
    assert "dbt_project/.user.yml" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    tracked = subprocess.run(
        ["git", "ls-files", "dbt_project/.user.yml"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert tracked.stdout.strip() == ""
