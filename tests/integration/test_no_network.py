"""Nothing phones home: a whole `mesh build` (and `mesh check`) on a fresh checkout makes no DNS
lookup and opens no connection to anything but this machine, in any of its processes (the CLI,
every `dagster` child, dbt's parse and runs).

Every Python process of the build loads a `sitecustomize` that records each non-loopback
`getaddrinfo` and `connect`; the test asserts the record stays empty. It proved itself on dbt's
anonymous usage statistics (a lookup of dbt's collector) before the project switched them off.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WATCH = """
import os
import socket

_LOG = os.environ.get("MESH_NET_WATCH_LOG")
_LOCAL = ("127.", "::1", "localhost", "0.0.0.0")


def _note(what):
    with open(_LOG, "a", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {what}\\n")


if _LOG:
    _getaddrinfo, _connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not str(host).startswith(_LOCAL):
            _note(f"dns {host}")
        return _getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(address[0]).startswith(_LOCAL):
            _note(f"connect {address}")
        return _connect(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
"""


def watched_env(tmp_path: Path, project: Path) -> tuple[dict[str, str], Path]:
    watch = tmp_path / "watch"
    watch.mkdir()
    (watch / "sitecustomize.py").write_text(WATCH)
    log = tmp_path / "network.log"
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENLINEAGE", "MESH_NOTIFY"))},
        "PYTHONPATH": str(watch),
        "MESH_NET_WATCH_LOG": str(log),
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_PROJECT_DIR": str(project),
    }
    return env, log


def test_the_watch_records_a_lookup(tmp_path: Path, project: Path):
    env, log = watched_env(tmp_path, project)
    code = "import socket\ntry:\n    socket.getaddrinfo('example.invalid', 80)\nexcept OSError:\n    pass\n"
    subprocess.run([str(BIN / "python"), "-c", code], env=env, check=True, timeout=60)
    assert "dns example.invalid" in log.read_text()


def test_a_whole_build_and_check_contact_nothing_outside_this_machine(tmp_path: Path, project: Path):
    env, log = watched_env(tmp_path, project)
    build = subprocess.run([str(BIN / "mesh"), "build", "--orders", "300"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=800)  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    check = subprocess.run([str(BIN / "mesh"), "check"], cwd=project, env=env, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    assert not log.exists() or log.read_text() == "", log.read_text()
