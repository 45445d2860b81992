"""The warm worker of ``mesh build``: Dagster, dbt and the dbt project loaded once, each run a forked child.

A fresh Python process per domain run paid, every time, the imports of Dagster, dagster-dbt and dbt
(several seconds of CPU), dbt's parse of the project and adapter set-up: most of a small domain's
run. ``mesh build`` now starts this process once (``meshwork.runtime.warm_runs`` is the build's side).
It imports what every run needs and parses the dbt project once, then, for each run the build asks
for, forks a child that executes the run exactly as ``python -m meshwork.runtime.located_runs``
would: the run is created under its code location (same origins, tags, logs) and executed by
``dagster api execute_run`` in that child. The child keeps every guarantee of a ``run_worker`` run:

- it leads a process group of its own (a signal to the build's group does not reach it);
- it gets SIGTERM from the kernel when its parent dies (``PR_SET_PDEATHSIG``), and this process gets
  SIGTERM when the build dies, so a ``kill -9`` of the build ends the worker and then every run;
- its run is tagged with the child's own ``host:pid:start`` (``run_worker.WORKER_TAG``), so orphan
  recovery judges the child, not this process;
- it holds the domain's build lock: the build sends the locked descriptor with the request
  (``SCM_RIGHTS``), the child inherits it, this process closes its copy at once;
- its environment is the one the build gives that run (the enforced mode's per-domain credentials).

Nothing runs in this process itself: no run, no DuckDB connection, no instance storage kept open,
no thread (it refuses to fork while another thread exists). Every child starts from the same
pristine state, so a run that fails, leaks or corrupts its memory cannot affect the next one. In
the enforced mode, where domain code is untrusted, no domain module is imported here and the dbt
project (domain models) is not parsed here: each child loads its own domain as a fresh process would.

Protocol (a ``SOCK_SEQPACKET`` socket pair; one JSON object per message):

- ``{"instance": "open"}`` once the build has created the instance's storage, or ``{"instance": "create"}``
  to have it created here, answered by ``{"instance_error": null}`` or ``{"instance_error": "<why>"}``;
- request ``{"id", "argv", "env", "cwd"}`` with descriptors ``[out]`` or ``[out, lock]`` attached;
- replies ``{"id", "pid"}`` once forked, ``{"id", "exit"}`` when the child has ended (``-N``: signal N),
  ``{"id", "error"}`` when it could not be forked.

Command line: ``python -m meshwork.runtime.warm_worker <build pid> <socket fd>``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable

from meshwork.core import settings
from meshwork.runtime import instance, located_runs, run_worker

_MAX_MESSAGE = 1 << 20


def _say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} warm worker {os.getpid()}: {message}", flush=True)


def _import_runtime() -> None:
    """What every run imports: Dagster's run execution and the mesh runtime."""
    import dagster as dg  # noqa: F401  (deferred: this module must stay light for the build)

    from meshwork.runtime import dbt_products, gate, python_products  # noqa: F401  (deferred: loaded as a stage)


def _open_instance() -> None:
    """The storage classes of the instance (SQLAlchemy, alembic, the Postgres driver when configured),
    opened and closed again, so no connection crosses a fork. Only once the build has created the
    storage (``ready`` message): two processes creating the same SQLite tables at once collide."""
    import dagster as dg  # deferred, as above

    with dg.DagsterInstance.get():
        pass


def _import_locations() -> None:
    """The workspace's location modules (local mode only: in the enforced mode domain code is untrusted)."""
    for location in located_runs.locations():
        with contextlib.suppress(Exception):  # a location that does not import fails in its own run
            if location.working_directory and location.working_directory not in sys.path:
                sys.path.insert(0, location.working_directory)
            importlib.import_module(location.module_name)


def _parse_dbt() -> None:
    """dbt imported, its adapter loaded, and the project parsed once for every run (local mode only)."""
    # Deferred, like every dbt import: loaded in this stage, after requests waiting for the first ones.
    from meshwork.runtime import dbt_products, dbt_runner
    from meshwork.storage import dbt_project  # with the two above

    if not (settings.dbt_project_dir() / "dbt_project.yml").exists() or not settings.dbt_in_process():
        return
    import dbt.adapters.duckdb  # noqa: F401  (the adapter every run registers)

    dbt_runner.keep_parsed(
        dbt_products.dbt_resource(),
        json.dumps(dbt_project.dbt_vars(None)),
        dbt_project.target_path(None),
    )


def _import_domain_checks() -> None:
    """pandera and its DuckDB backend, when a contract has Python checks (local mode only): ~1.5 s of
    imports each run that validates one would pay. They bring numpy's and pyarrow's native threads
    (OpenBLAS, jemalloc), which register fork handlers, as under any pre-forking server."""
    contracts = settings.project_dir().glob("domains/*/contracts/*.yaml")
    if any("pandera" in path.read_text(encoding="utf-8", errors="replace") for path in contracts):
        import ibis.backends.duckdb  # noqa: F401  (deferred: loaded as a stage; the backend ibis loads lazily)

        from meshwork.quality import pandera_checks  # noqa: F401  (deferred: loaded as a stage)


def stages(enforced: bool) -> list[tuple[str, Callable[[], None]]]:
    """What is loaded, in order; requests that arrive meanwhile are served between stages.

    The instance is opened after the imports, as the build creates its storage meanwhile (the worker
    starts first so its imports overlap the build's own start-up; ``Worker.run`` waits for ``ready``).
    """
    if enforced:
        return [("Dagster and the mesh runtime", _import_runtime), (_INSTANCE, _open_instance)]
    return [
        ("Dagster and the mesh runtime", _import_runtime),
        ("the code locations' modules", _import_locations),
        (_INSTANCE, _open_instance),
        (_DBT, _parse_dbt),
        ("pandera for the domains' Python checks", _import_domain_checks),
    ]


_INSTANCE = "the Dagster instance's storage"
_DBT = "dbt and the parsed dbt project"


class Worker:
    def __init__(self, build_pid: int, sock: socket.socket):
        self.build_pid = build_pid
        self.sock = sock
        self.children: dict[int, int] = {}  # pid -> request id
        self.closed = False
        # How to reach the instance's storage, once the build says: "open" (the build has created it)
        # or "create" (create it here and reply: the build then need not import Dagster itself).
        self.instance: str | None = None
        # Requests that need the dbt parse wait for it; the others are forked at once.
        self.dbt_ready = False
        self.waiting: list[tuple[dict, list[int]]] = []

    def send(self, message: dict) -> None:
        with contextlib.suppress(OSError):  # the build is gone: nothing to tell
            self.sock.send(json.dumps(message).encode())

    def serve_pending(self, timeout: float = 0.0, linger: float = 0.0) -> None:
        """Fork a child for each request waiting (up to ``timeout`` for the first, ``linger`` for each
        next one), reap ended children."""
        self.reap()
        while not self.closed:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                break
            timeout = linger
            data, fds, _flags, _addr = socket.recv_fds(self.sock, _MAX_MESSAGE, 4)
            if not data:
                self.closed = True
                break
            message = json.loads(data)
            if "instance" in message:
                self.instance = message["instance"]
            elif message.get("dbt", True) and not self.dbt_ready:
                self.waiting.append((message, fds))
            else:
                self.start(message, fds)
        self.reap()

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request = self.children.pop(pid, None)
            if request is not None:
                self.send({"id": request, "exit": os.waitstatus_to_exitcode(status)})

    def start(self, request: dict, fds: list[int]) -> None:
        try:
            if (extra := [t.name for t in threading.enumerate() if t is not threading.main_thread()]) != []:
                raise RuntimeError(f"refusing to fork with other threads running: {', '.join(extra)}")
            sys.stdout.flush()
            sys.stderr.flush()
            me = os.getpid()
            pid = os.fork()
        except Exception as exc:
            for fd in fds:
                os.close(fd)
            self.send({"id": request["id"], "error": f"{type(exc).__name__}: {exc}"})
            return
        if pid == 0:
            _child(self, me, request, fds)  # never returns
        for fd in fds:  # the child has them; the lock must end with the child, not with this process
            os.close(fd)
        self.children[pid] = request["id"]
        self.send({"id": request["id"], "pid": pid})
        _say(f"forked {request['argv'][1]} as pid {pid}")

    def create_instance(self) -> None:
        """Create (or migrate) the instance's storage for the build and tell it how that went."""
        try:
            instance.ensure_local_instance()
        except instance.InstanceUnavailable as exc:
            _say(f"could not create the Dagster instance's storage: {exc}")  # before the build ends this process
            self.send({"instance_error": str(exc)})
            raise
        self.send({"instance_error": None})

    def run(self) -> None:
        loads = stages(bool(settings.service_url()))
        self.dbt_ready = all(what != _DBT for what, _ in loads)  # the enforced mode: each run parses
        for what, load in loads:
            while what == _INSTANCE and not (self.instance or self.closed):
                self.serve_pending(timeout=0.05)
            if what == _DBT:  # the build asks for its first runs right after the instance: serve those first
                self.serve_pending(timeout=0.3, linger=0.05)
            if self.closed:
                return
            if what == _INSTANCE and self.instance == "create":
                load = self.create_instance
            started = time.monotonic()
            try:
                load()
                _say(f"loaded {what} in {time.monotonic() - started:.1f}s")
            except Exception:  # each run loads what it needs itself: a failure here only costs time
                _say(f"could not load {what} ahead of the runs:\n{traceback.format_exc()}")
            if what == _DBT:
                self.dbt_ready = True
                waiting, self.waiting = self.waiting, []
                for message, fds in waiting:
                    self.start(message, fds)
            self.serve_pending()
        while not self.closed:  # until the build closes its end (it waits for its runs first)
            self.serve_pending(timeout=0.2)


def _child(worker: Worker, parent: int, request: dict, fds: list[int]) -> None:
    """The forked run: its own group, dies with this worker, the build's environment, then the run."""
    code = 1
    try:
        worker.sock.close()
        os.setpgid(0, 0)
        run_worker.die_with_parent(parent)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        out = fds[0]
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        argv = run_worker.with_worker_tag(list(request["argv"]), run_worker.worker_tag())
        code = located_runs.main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        _exit(code)


def _exit(code: int) -> None:
    """End the child as an interpreter would, without the worker's own exit handlers."""
    with contextlib.suppress(BaseException):
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main(argv: list[str]) -> None:
    build_pid, fd = int(argv[0]), int(argv[1])
    run_worker.die_with_parent(build_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the build forwards signals to the runs
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # what the kernel sends when the build dies: end at once
    Worker(build_pid, socket.socket(fileno=fd)).run()


if __name__ == "__main__":
    main(sys.argv[1:])
