"""docs/tutorial.md works as written: its `sh tutorial` blocks run in order in a fresh copy of the
repository, each succeeds, and the tutorial's product is published with the columns it promises."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

TUTORIAL = REPO / "docs" / "tutorial.md"
STEP = re.compile(r"^```sh tutorial\n(.*?)^```", re.MULTILINE | re.DOTALL)
PRODUCT = "fulfilment/orders_per_channel"


def steps() -> list[str]:
    return STEP.findall(TUTORIAL.read_text(encoding="utf-8"))


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The repository as a user would have it after `make install`: files plus the virtualenv."""
    copy = tmp_path / "checkout"
    shutil.copytree(
        REPO,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".tools", ".mesh", "__pycache__", "*.pyc", ".*_cache", "target", "logs", "*.egg-info"
        ),
    )
    (copy / ".venv").symlink_to(REPO / ".venv")
    return copy


def test_the_tutorial_edits_three_files_by_hand():
    edited = [m for step in steps() for m in re.findall(r"^cat > (\S+) <<", step, re.MULTILINE)]
    assert len(edited) == 3 and "three files" in TUTORIAL.read_text(encoding="utf-8")


def test_the_tutorial_runs_as_written_and_publishes_its_product(checkout: Path):
    # A user's shell: no test-suite MESH_HOME, the mesh lives in the checkout's .mesh/.
    env = {k: v for k, v in os.environ.items() if k not in ("MESH_HOME", "MESH_PROJECT_DIR", "DAGSTER_HOME")}
    timings = []
    for step in steps():
        start = time.monotonic()
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", step],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        timings.append((step.splitlines()[0][:70], time.monotonic() - start))
        assert result.returncode == 0, f"step failed:\n{step}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    print("\n".join(f"{seconds:6.1f}s  {first}" for first, seconds in timings))
    print(f"{sum(s for _, s in timings):6.1f}s  in total")

    listed = subprocess.run(
        [str(checkout / ".venv/bin/mesh"), "ports", "list", "--json"], cwd=checkout, env=env, capture_output=True
    )
    ports = {row["port"]: row for row in json.loads(listed.stdout)}
    assert ports[f"{PRODUCT}@v1"]["rows"] > 0
    root = checkout / ".mesh/ports" / PRODUCT / "v1"
    files = f"{root / (root / 'latest').read_text().strip()}/*.parquet"
    published = duckdb.sql(f"SELECT * FROM read_parquet('{files}')")
    assert published.columns == ["order_date", "channel", "orders", "completed_orders"]
    orders = duckdb.sql(f"SELECT sum(orders) FROM read_parquet('{files}')").fetchall()[0][0]
    assert orders == ports["sales/orders@v1"]["rows"]
