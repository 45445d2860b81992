"""PostgreSQL for the tests that keep the Dagster instance in it.

Two sources, in this order:

- ``MESH_TEST_POSTGRES_URL``: a server someone else runs (``.ci/run`` starts one, see
  ``.ci/postgres.sh``); each test gets a fresh database on it, dropped afterwards;
- a private throwaway cluster started here with ``initdb``/``pg_ctl`` (Debian's
  ``/usr/lib/postgresql/<major>/bin`` or the PATH), run as the ``postgres`` user when the tests run
  as root, because the server refuses to. Tests that stop the server always use one of these.

Without either, Postgres tests skip with the reason, except under ``CI=true``, where they fail:
a broken install must not pass as a green build.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

URL_VAR = "MESH_TEST_POSTGRES_URL"


def unavailable(reason: str) -> None:
    """Skip the test, or fail it in CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required in CI (CI=true): {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


def bindir() -> Path | None:
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL cluster in ``root``, on 127.0.0.1, trust auth, user and db ``meshwork``."""

    def __init__(self, root: Path, bin_dir: Path):
        self.root, self.bin = root, bin_dir
        self.port = free_port()
        self.url = f"postgresql://meshwork@127.0.0.1:{self.port}/meshwork"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no 'postgres' user to run the server as")
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as_owner, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}"

    def init(self) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_owner:
            shutil.chown(self.root, "postgres")
        data = self.root / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "meshwork", "--auth=trust", "--no-sync")
        self.start()
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "meshwork", "meshwork"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
        log = str(self.root / "server.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-l", log, "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: the server drops every connection without a goodbye."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            [*self._as_owner, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "status"], capture_output=True
        )
        return status.returncode == 0


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    bin_dir = bindir()
    if bin_dir is None:
        unavailable("no initdb/pg_ctl (apt-get install postgresql)")
        raise AssertionError("unreachable")
    # Not under pytest's tmp_path: as root that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="meshwork-pg-"))
    try:
        cluster = Cluster(root, bin_dir).init()
        try:
            yield cluster
        finally:
            if cluster.running():
                cluster.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def database(server_url: str) -> Iterator[str]:
    """A fresh database on the server of ``server_url``; yields its URL and drops it afterwards."""
    name = f"meshwork_test_{uuid.uuid4().hex[:12]}"
    admin(server_url, f'CREATE DATABASE "{name}"')
    yield server_url.rsplit("/", 1)[0] + f"/{name}"
    admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin(url: str, sql: str) -> None:
    import psycopg2

    con = psycopg2.connect(url)
    con.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    try:
        con.cursor().execute(sql)
    finally:
        con.close()


def query(url: str, sql: str) -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()
