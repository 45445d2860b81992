"""Shared fixtures: an isolated MESH_HOME per test, and throw-away copies of the project to break."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def mesh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own MESH_HOME, so nothing touches the developer's .mesh/."""
    home = tmp_path / "mesh_home"
    (home / "dagster").mkdir(parents=True)
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("MESH_PROJECT_DIR", str(REPO))
    # Ports go to the local folder unless a test asks for object storage (the s3_ports fixture).
    monkeypatch.delenv("MESH_PORTS_URL", raising=False)
    return home


def copy_project(dest: Path) -> Path:
    """A copy of the project (domains, dbt project, workspace) that a test may break."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("domains", "dbt_project"):
        shutil.copytree(
            REPO / name, dest / name, ignore=shutil.ignore_patterns("target", "logs", "__pycache__", "*.pyc")
        )
    shutil.copy2(REPO / "workspace.yaml", dest / "workspace.yaml")
    return dest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away project copy, made current for this process (MESH_PROJECT_DIR)."""
    root = copy_project(tmp_path / "project")
    monkeypatch.setenv("MESH_PROJECT_DIR", str(root))
    return root


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env or dict(os.environ), capture_output=True, text=True, timeout=timeout)


def mesh_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run([str(BIN / "mesh"), *args], cwd=cwd, env=env)


def dagster_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run([str(BIN / "dagster"), *args], cwd=cwd, env=env)


@pytest.fixture(scope="session")
def built_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example mesh built once, end to end through `mesh build`, in its own MESH_HOME."""
    home = tmp_path_factory.mktemp("built") / "mesh_home"
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "MESH_PROJECT_DIR": str(REPO)}
    result = mesh_cli("build", "--orders", "1000", "--json", env=env)
    assert result.returncode == 0, f"mesh build failed:\n{result.stdout}\n{result.stderr}"
    yield home


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto) on 127.0.0.1, shared by the session's tests."""
    from tests.s3 import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_ports(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """Ports of this test (and of the processes it starts) go to a fresh bucket: MESH_PORTS_URL=s3://…"""
    from tests.s3 import new_bucket

    bucket = new_bucket(s3_endpoint)
    for name, value in bucket.env().items():
        monkeypatch.setenv(name, value)
    return bucket
