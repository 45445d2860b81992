"""The build's side of the warm worker (``meshwork.runtime.warm_worker``): start it once, run through it.

:func:`session` starts the worker for the block (from the calling thread, which must outlive every
run: the worker dies with that thread) and makes it the process's current one; :func:`run_located`
runs a job of a code location through the current worker, or, without one (or with
``MESH_WARM_WORKER=0``), as a fresh ``run_worker`` process like before. Either way the caller gets a
:class:`Started` handle that ``meshwork.runtime.build_processes`` can signal and wait for.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import psutil

from meshwork.core import settings
from meshwork.runtime import run_worker

# Not imported here: `mesh build` starts the worker before it imports Dagster itself (see ensure_instance).
_LOCATED_RUNS = "meshwork.runtime.located_runs"

_current: WarmWorker | None = None
_active = False


class WorkerGone(Exception):
    """The warm worker is not running any more."""


class Started:
    """A run the warm worker forked: its pid once known, its exit code once ended."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.code: int | None = None
        self.error: str | None = None
        self._pending_signal: tuple[int, bool] | None = None
        self._changed = threading.Condition()

    def signal(self, sig: int, group: bool = False) -> None:
        """Send ``sig`` to the run (its whole process group with ``group``), now or once it has a pid."""
        with self._changed:
            if self.pid is None:
                self._pending_signal = (sig, group)
                return
            pid = self.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig) if group else os.kill(pid, sig)

    def _set(self, pid: int | None = None, code: int | None = None, error: str | None = None) -> None:
        with self._changed:
            if pid is not None:
                self.pid = pid
            if code is not None:
                self.code = code
            if error is not None:
                self.error = error
            pending, self._pending_signal = (self._pending_signal, None) if pid is not None else (None, None)
            self._changed.notify_all()
        if pending is not None:
            self.signal(*pending)

    def wait(self) -> int:
        """The run's exit code (``-N``: ended by signal N)."""
        with self._changed:
            self._changed.wait_for(lambda: self.code is not None or self.error is not None)
            if self.code is not None:
                return self.code
            pid = self.pid
        # The worker is gone (or could not fork): a child it had forked ends with it (PDEATHSIG);
        # wait until it has, so the run's own failure record and the domain lock are settled.
        while pid is not None and psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.1)
        print(f"meshwork: {self.error}", file=sys.stderr)
        return 1 if pid is None else -signal.SIGTERM


class WarmWorker:
    """One ``warm_worker`` process and the socket to it; runs are started from any thread."""

    def __init__(self, log: Path):
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as out, theirs:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "meshwork.runtime.warm_worker", str(os.getpid()), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                process_group=0,  # a Ctrl-C to the build's group reaches the build only, as for runs
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=settings.project_dir(),
                env=worker_env(),
            )
        self.log = log
        self._runs: dict[int, Started] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._gone: str | None = None
        self._instance_reply = threading.Event()
        self._instance_reply_body: dict | None = None
        self._reader = threading.Thread(target=self._read, name="warm-worker-replies", daemon=True)
        self._reader.start()

    def start(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        out: IO[str],
        keep_fd: int | None = None,
        needs_dbt: bool = True,
    ) -> Started:
        """Ask for a run of ``python -m meshwork.runtime.located_runs <argv>`` with ``out`` as its output.

        ``needs_dbt``: fork it only once the worker has parsed the dbt project (else it is forked at once)."""
        out.flush()
        started = Started()
        fds = [out.fileno()] + ([keep_fd] if keep_fd is not None else [])
        with self._lock:
            if self._gone:
                raise WorkerGone(self._gone)
            self._next += 1
            self._runs[self._next] = started
            message = {"id": self._next, "argv": argv, "env": dict(env), "cwd": str(cwd), "dbt": needs_dbt}
            try:
                socket.send_fds(self._sock, [json.dumps(message).encode()], fds)
            except OSError as exc:
                del self._runs[self._next]
                raise WorkerGone(f"the warm worker does not answer: {exc}") from exc
        return started

    def instance_ready(self) -> None:
        """Tell the worker the instance's storage exists: it may open it now."""
        with self._lock, contextlib.suppress(OSError):  # a worker gone is found by the first run
            self._sock.send(json.dumps({"instance": "open"}).encode())

    def create_instance(self) -> None:
        """Have the worker create (or migrate) the instance's storage; wait for it.

        Raises ``instance.InstanceUnavailable`` as :func:`instance.ensure_local_instance` would, and
        :class:`WorkerGone` if the worker cannot do it (the caller then creates it itself).
        """
        with self._lock:
            if self._gone:
                raise WorkerGone(self._gone)
            try:
                self._sock.send(json.dumps({"instance": "create"}).encode())
            except OSError as exc:
                raise WorkerGone(f"the warm worker does not answer: {exc}") from exc
        self._instance_reply.wait()
        with self._lock:
            reply, gone = self._instance_reply_body, self._gone
        if reply is None:
            raise WorkerGone(gone or "the warm worker ended")
        if reply["instance_error"]:
            from meshwork.runtime.instance import InstanceUnavailable  # deferred: it imports Dagster

            raise InstanceUnavailable(reply["instance_error"])

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            reply = json.loads(data)
            if "instance_error" in reply:
                with self._lock:
                    self._instance_reply_body = reply
                self._instance_reply.set()
                continue
            with self._lock:
                run = self._runs.get(reply.get("id", -1))
                if run is not None and ("exit" in reply or "error" in reply):
                    del self._runs[reply["id"]]
            if run is not None:
                run._set(pid=reply.get("pid"), code=reply.get("exit"), error=reply.get("error"))
        code = self.proc.wait()
        with self._lock:
            self._gone = f"the warm worker (pid {self.proc.pid}) ended (exit {code}); see {self.log}"
            orphans, self._runs = list(self._runs.values()), {}
        for run in orphans:
            run._set(error=self._gone)
        self._instance_reply.set()  # a build waiting for the instance learns the worker is gone

    def close(self) -> None:
        """Close the socket (the worker exits), wait for it; kill it if it does not end."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if self._next == 0:  # it ran nothing (the build stopped early): no need to wait for its imports
            self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        self._sock.close()


def worker_env() -> dict[str, str]:
    """The worker's environment: the build's, without credentials in the enforced mode (each run
    gets its own domain's in its request, as ``meshwork.runtime.build`` gives a run process)."""
    env = settings.subprocess_env()
    if settings.service_url():
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "MESH_SERVICE_TOKEN_FILE"):
            env.pop(name, None)
    return env


@contextlib.contextmanager
def session(log: Path | None = None, *, instance_ready: bool = False) -> Iterator[WarmWorker | None]:
    """A warm worker for the block, the current one of this process (reentrant: an active one is kept).

    The worker starts at once, so its imports overlap what this process does meanwhile, and opens
    the instance only once :func:`ensure_instance` has created its storage (or ``instance_ready``
    says it exists). Its output goes to ``log`` (default ``$MESH_HOME/logs/warm-worker-<time>-<pid>.log``).
    Yields None when ``MESH_WARM_WORKER=0``.
    """
    global _current, _active
    if _active:
        yield _current
        return
    worker = None
    if settings.warm_worker():
        log = log or settings.logs_dir() / f"warm-worker-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
        worker = WarmWorker(log)
        if instance_ready:
            worker.instance_ready()
    _active, _current = True, worker
    try:
        yield worker
    finally:
        _active, _current = False, None
        if worker is not None:
            worker.close()


def ensure_instance() -> None:
    """Create (or migrate) the instance's storage: by the current worker if there is one (it has
    imported Dagster already, so this process need not), else here.

    Raises ``instance.InstanceUnavailable`` naming the storage. The worker opens the storage only
    after this: two processes creating the same SQLite tables at once collide.
    """
    if (worker := _current) is not None:
        with contextlib.suppress(WorkerGone):  # then here, below
            return worker.create_instance()
    from meshwork.runtime.instance import ensure_local_instance  # deferred: it imports Dagster

    ensure_local_instance()


def current() -> WarmWorker | None:
    return _current


def located_command(location: str, job: str, tags: Mapping[str, str]) -> list[str]:
    """The arguments of ``python -m meshwork.runtime.located_runs`` for a run of ``job`` in ``location``."""
    return [location, job, "--tags", json.dumps(dict(tags))]


def fresh_process_command(argv: list[str]) -> list[str]:
    """``located_runs <argv>`` as a fresh ``run_worker`` process of this one (the way without a warm worker)."""
    return run_worker.command(os.getpid(), [sys.executable, "-m", _LOCATED_RUNS, *argv])


def run_located(location: str, job: str, tags: Mapping[str, str], out: IO[str], needs_dbt: bool = True) -> int:
    """Run ``job`` of ``location`` to its end, through the current warm worker if there is one; its exit code.

    Its output goes to ``out``; it dies with this process either way (``run_worker``'s guarantees).
    """
    argv = located_command(location, job, tags)
    env, cwd = settings.subprocess_env(), settings.project_dir()
    if (worker := current()) is not None:
        with contextlib.suppress(WorkerGone):  # then as a fresh process, below
            return worker.start(argv, env=env, cwd=cwd, out=out, needs_dbt=needs_dbt).wait()
    return subprocess.run(
        fresh_process_command(argv), stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env, check=False
    ).returncode
