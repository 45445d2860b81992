"""The dbt parse is reused only while no project file was added, changed, renamed or deleted.

Staleness once looked at the newest modification time only: deleting a model changes no time, so
`mesh check` went on reporting models (and products) that no longer existed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meshwork.storage import dbt_project

pytestmark = pytest.mark.slow  # runs `dbt parse`


def models(manifest: dict) -> set[str]:
    return {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_a_deleted_model_is_gone_from_the_next_load(project: Path):
    assert "daily_revenue" in models(dbt_project.load_manifest())
    parsed = dbt_project.manifest_path().stat().st_mtime_ns
    assert dbt_project.load_manifest() and dbt_project.manifest_path().stat().st_mtime_ns == parsed  # reused
    for suffix in (".sql", ".yml"):
        (project / f"dbt_project/models/finance/marts/daily_revenue{suffix}").unlink()
    assert "daily_revenue" not in models(dbt_project.load_manifest())


def test_a_renamed_model_that_keeps_its_modification_time_is_parsed_again(project: Path):
    dbt_project.load_manifest()
    marts = project / "dbt_project/models/finance/marts"
    for suffix in (".sql", ".yml"):
        (marts / f"daily_revenue{suffix}").rename(marts / f"revenue_by_day{suffix}")  # a rename keeps the mtime
    text = (marts / "revenue_by_day.yml").read_text().replace("name: daily_revenue", "name: revenue_by_day")
    stat = (marts / "revenue_by_day.yml").stat()
    (marts / "revenue_by_day.yml").write_text(text)
    os.utime(marts / "revenue_by_day.yml", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as old as before
    found = models(dbt_project.load_manifest())
    assert "revenue_by_day" in found and "daily_revenue" not in found


def test_a_manifest_written_by_someone_else_is_not_taken_for_ours(project: Path):
    dbt_project.load_manifest()
    manifest = dbt_project.manifest_path()
    manifest.write_text('{"nodes": {}, "sources": {}}')
    assert "daily_revenue" in models(dbt_project.load_manifest())
