"""Domains build at the same time without DuckDB lock errors; runs of one domain queue on its pool."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from meshwork.runtime.build import materialize_command
from meshwork.runtime.instance import ensure_local_instance
from meshwork.storage import snapshots
from tests.conftest import REPO, mesh_cli

pytestmark = pytest.mark.slow


def start(domain: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, Path]:
    out = log.open("w")
    return subprocess.Popen(materialize_command(domain), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT), log


def test_two_domains_and_two_runs_of_one_domain_at_once_never_hit_a_duckdb_lock(mesh_home: Path, tmp_path: Path):
    env = dict(os.environ)
    assert mesh_cli("generate", "--orders", "3000", env=env).returncode == 0
    ensure_local_instance()
    # Two at a time, as `mesh build` runs them: the local SQLite instance is not made for more.
    for pair in (("sales", "customers"), ("customers", "customers")):
        procs = [start(domain, env, tmp_path / f"{domain}-{i}.log") for i, domain in enumerate(pair)]
        for proc, log in procs:
            assert proc.wait(timeout=600) == 0, log.read_text()[-4000:]
        for _, log in procs:
            text = log.read_text()
            assert "Could not set lock" not in text and "Conflicting lock" not in text, log
    # All three customers runs published, one writer at a time (the pool admits one).
    published = sorted(p.name for p in (mesh_home / "ports/customers/customer_profiles/v1").iterdir() if p.is_dir())
    assert len(published) == 3
    # Each snapshot names the run that built the data it holds.
    built_by = {snapshots.read_manifest("customers", "customer_profiles", 1, s).built_by_run for s in published}
    assert None not in built_by
