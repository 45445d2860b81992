"""The image's Python environment is hermetic: every package, the build backend included, comes from a
hash-pinned lockfile, and the build fails rather than fetch anything unpinned.

No Docker daemon here, so the test replays deploy/Dockerfile itself: its COPY instructions into a staging
root, then every `pip` command of its RUN instructions, as written, in a fresh virtualenv, with the package
index switched off (pip's configuration files ignored, `PIP_NO_INDEX`) and only the wheels the locks name,
downloaded beforehand by hash, to install from.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.timeout(1200)

DOCKERFILE = REPO / "deploy/Dockerfile"
LOCKS = {"runtime": REPO / "deploy/requirements.lock", "build": REPO / "deploy/build-requirements.lock"}
WHEELS = REPO / ".tools/image-wheels"  # kept between runs: only what the locks name, checked by hash


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        line = (buf + raw).strip()
        buf = ""
        if line:
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def pip_commands() -> list[list[str]]:
    """Every `pip …` command the Dockerfile runs, in order."""
    commands = []
    for word, rest in instructions(DOCKERFILE.read_text()):
        if word == "RUN":
            for part in rest.split("&&"):
                argv = shlex.split(part)
                if argv and argv[0] == "pip":
                    commands.append(argv)
    return commands


def stage(root: Path) -> Path:
    """The Dockerfile's COPY instructions into ``root`` (standing for /); returns its WORKDIR there."""
    workdir = root
    for word, rest in instructions(DOCKERFILE.read_text()):
        if word == "WORKDIR":
            workdir = root / rest.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, dest = rest.split()
            target = root / dest.lstrip("/") if dest.startswith("/") else workdir / dest
            for source in sources:
                src = REPO / source
                if src.is_dir():
                    to = target if len(sources) == 1 and dest.endswith("/") else target / src.name
                    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
                    shutil.copytree(src, to, dirs_exist_ok=True, ignore=skip)
                else:
                    to = target / src.name if dest.endswith("/") else target
                    to.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, to)
    return workdir


def download(*locks: Path) -> None:
    """The wheels the locks name, by hash (this step alone uses the index, as the image build's would)."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    args = ["download", "--quiet", "--require-hashes", "--no-deps", "--only-binary", ":all:", "-d", str(WHEELS)]
    for lock in locks:
        args += ["-r", str(lock)]
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=900)
    if result.returncode and "No module named pip" in result.stderr:
        result = subprocess.run([str(_pip_venv() / "bin/python"), "-m", "pip", *args], capture_output=True, text=True,
                                timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def _pip_venv() -> Path:
    """A virtualenv with pip (the project's .venv is made by uv, without pip) for downloading."""
    path = REPO / ".tools/image-wheels-pip"
    if not (path / "bin/python").exists():
        venv.create(path, with_pip=True)
    return path


def offline_env() -> dict[str, str]:
    """pip with the index off: no configuration file (this machine's adds indexes), only the wheel folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHON"))}
    return env | {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELS),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
    }


def replay(commands: list[list[str]], python: Path, root: Path, workdir: Path) -> subprocess.CompletedProcess:
    """Run the Dockerfile's pip commands with this virtualenv's pip, absolute paths under ``root``."""
    for argv in commands:
        args = [str(root / a.lstrip("/")) if a.startswith("/") else a for a in argv[1:]]
        result = subprocess.run([str(python), "-m", "pip", *args], cwd=workdir, env=offline_env(),
                                capture_output=True, text=True, timeout=900)  # fmt: skip
        if result.returncode:
            return result
    return result


def fresh_venv(path: Path) -> Path:
    venv.create(path, with_pip=True)  # ensurepip: pip from the interpreter itself, no download
    return path / "bin/python"


def test_the_dockerfile_installs_only_from_hash_pinned_locks_with_the_index_off_for_the_project():
    commands = pip_commands()
    locks = [c for c in commands if "-r" in c]
    assert {Path(c[c.index("-r") + 1]).name for c in locks} == {"requirements.lock", "build-requirements.lock"}
    for c in locks:
        assert {"--require-hashes", "--no-deps", "--only-binary"} <= set(c), c
    [project] = [c for c in commands if c[-1] == "."]
    assert {"--no-deps", "--no-build-isolation", "--no-index"} <= set(project), project
    assert all(c[1] in ("install", "check") for c in commands), commands
    # Every line of every lock is pinned (==) and carries hashes.
    for lock in LOCKS.values():
        entries = [ln for ln in lock.read_text().splitlines() if ln and not ln.startswith((" ", "#"))]
        assert entries and all("==" in e for e in entries), lock
        assert lock.read_text().count("--hash=sha256:") >= len(entries), lock


def test_the_project_builds_with_the_locked_backend_and_the_index_off(tmp_path: Path):
    download(LOCKS["build"])
    root = tmp_path / "image"
    workdir = stage(root)
    python = fresh_venv(tmp_path / "venv")
    build = [c for c in pip_commands() if "build-requirements.lock" in " ".join(c) or c[-1] == "."]
    result = replay(build, python, root, workdir)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    shown = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
    installed = dict(line.split("==") for line in shown.stdout.split())
    assert installed["meshwork"] == "0.1.0"
    locked = {ln.split("==")[0]: ln.split("==")[1].split()[0] for ln in LOCKS["build"].read_text().splitlines()
              if "==" in ln and not ln.startswith(" ")}  # fmt: skip
    assert {k: installed.get(k) for k in locked} == locked  # the backend at exactly the locked versions


def test_without_the_locked_backend_the_project_build_fails_instead_of_fetching_one(tmp_path: Path):
    root = tmp_path / "image"
    workdir = stage(root)
    python = fresh_venv(tmp_path / "venv")
    [project] = [c for c in pip_commands() if c[-1] == "."]
    result = replay([project], python, root, workdir)
    assert result.returncode != 0
    assert "hatchling" in result.stdout + result.stderr  # it needed the backend and did not go and get it


def test_a_lock_line_without_a_hash_fails_the_dependency_step(tmp_path: Path):
    download(LOCKS["build"])
    root = tmp_path / "image"
    workdir = stage(root)
    lock = root / "tmp/locks/build-requirements.lock"
    lines = lock.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("hatchling=="))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].lstrip().startswith("--hash"))
    lock.write_text("\n".join([*lines[:start], lines[start].rstrip(" \\"), *lines[end:]]) + "\n")  # no hash
    python = fresh_venv(tmp_path / "venv")
    [step] = [c for c in pip_commands() if "build-requirements.lock" in " ".join(c)]
    result = replay([step], python, root, workdir)
    assert result.returncode != 0 and "hashes are required" in result.stderr.lower(), result.stderr[-2000:]


@pytest.mark.slow
def test_the_whole_image_environment_installs_offline_from_the_locks_and_loads_the_platform(tmp_path: Path):
    download(*LOCKS.values())
    root = tmp_path / "image"
    workdir = stage(root)
    python = fresh_venv(tmp_path / "venv")
    result = replay(pip_commands(), python, root, workdir)  # the runtime lock, the backend's, pip check, project
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    loaded = subprocess.run(
        [str(python), "-c", "import meshwork.locations.platform, dagster_k8s, dagster_postgres; print('ok')"],
        cwd=tmp_path, env={**offline_env(), "MESH_PROJECT_DIR": str(workdir)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert loaded.returncode == 0 and loaded.stdout.strip() == "ok", loaded.stderr[-3000:]
