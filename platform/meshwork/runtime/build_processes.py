"""The processes of ``mesh build``: one build per domain at a time, and no run left behind by a dead build.

- **Domain lock.** A build holds ``$MESH_HOME/locks/build-<domain>.lock`` (``fcntl.flock``) while it runs
  the domain; a second ``mesh build`` of the domain waits for it, saying so. The run's process inherits
  the lock, so it is held until both the build and its run have exited, and the kernel releases it
  whatever kills them. Two runs of a domain interleaving their steps would publish each other's tables.
- **Children.** Each run starts in a process group of its own (``meshwork.runtime.run_worker``): a signal
  to the build's group reaches the build only. The build forwards SIGINT, SIGTERM and SIGHUP to its runs
  as SIGTERM (Dagster then records each run as failed and frees its pool slot), starts nothing more, and
  on a second signal kills the runs' whole groups. A ``kill -9`` of the build is handled by the runs
  themselves: they get SIGTERM from the kernel when the build dies (Linux).
- **Warm worker.** By default the runs are not fresh processes but children forked by the build's warm
  worker (``meshwork.runtime.warm_worker``), which dies with the build and takes its children with it;
  each child keeps the guarantees above (its own group, the inherited lock, SIGTERM when its parent
  dies) and is signalled by pid like a fresh process (:class:`Run`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any, Protocol

from meshwork.core import settings

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def lock_path(domain: str) -> Path:
    return settings.mesh_home() / "locks" / f"build-{domain}.lock"


class Stopped(Exception):
    """The build was interrupted before this domain's run could start."""


@contextlib.contextmanager
def domain_lock(domain: str, stop: threading.Event, say: Callable[[str], None]) -> Iterator[int]:
    """Hold the domain's build lock, waiting (and saying for whom) while another build has it.

    Yields the locked file descriptor, for the run to inherit. Raises :class:`Stopped` if ``stop`` is
    set while waiting.
    """
    path = lock_path(domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    say(f"      {domain}: waiting for another build of {domain} (mesh build pid {holder}) to finish")
                    told = True
            # Polled, not a blocking flock: a signal must be able to end the wait.
            if stop.wait(0.5):
                raise Stopped(domain)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield fd
    finally:
        os.close(fd)


class Run(Protocol):
    """A started run: a fresh process (:class:`_Process`) or a warm worker's child (``warm_runs.Started``)."""

    def signal(self, sig: int, group: bool = False) -> None: ...

    def wait(self) -> int: ...


class _Process:
    def __init__(self, proc: subprocess.Popen[bytes]):
        self.proc = proc

    def signal(self, sig: int, group: bool = False) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig) if group else self.proc.send_signal(sig)

    def wait(self) -> int:
        return self.proc.wait()


class Children:
    """The runs a build has started, and what the build does with them when it is signalled."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.signalled: int | None = None
        self._procs: set[Run] = set()
        self._lock = threading.Lock()

    def run(self, command: list[str], *, keep_fd: int, out: IO[str], **popen: Any) -> int:
        """Run ``command`` in its own process group, inheriting ``keep_fd``; its exit code.

        Raises :class:`Stopped` when the build was signalled before it could start.
        """

        def start() -> Run:
            return _Process(
                subprocess.Popen(
                    command, stdout=out, stderr=subprocess.STDOUT, process_group=0, pass_fds=(keep_fd,), **popen
                )
            )

        return self.run_started(start)

    def run_started(self, start: Callable[[], Run]) -> int:
        """Start a run with ``start`` (in a process group of its own) and wait for its exit code.

        Raises :class:`Stopped` when the build was signalled before it could start.
        """
        with self._lock:  # a signal between the check and the start would miss this child
            if self.stop.is_set():
                raise Stopped(str(start))
            proc = start()
            self._procs.add(proc)
        try:
            return proc.wait()
        finally:
            with self._lock:
                self._procs.discard(proc)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        first = not self.stop.is_set()
        self.stop.set()
        self.signalled = self.signalled or signum
        with self._lock:
            for proc in self._procs:
                if first:  # Dagster ends a run on SIGTERM: records its failure, frees its slot
                    proc.signal(signal.SIGTERM)
                else:  # asked twice: the whole group at once, left to orphan recovery
                    proc.signal(signal.SIGKILL, group=True)

    @contextlib.contextmanager
    def forwarding_signals(self) -> Iterator[Children]:
        """Forward SIGINT, SIGTERM and SIGHUP to the runs while the block runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _FORWARDED}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
