"""The process a ``mesh build`` run executes in: it dies with its build and tags its run with itself.

``mesh build`` starts each domain's run as ``python -m meshwork.runtime.run_worker <build pid> <command>``,
the command being ``python -m meshwork.runtime.located_runs <location> <job> --tags …`` (the run, recorded
under its code location). Before this process becomes that command (``os.execv`` keeps its pid), it

- leads a process group of its own, so what the run starts (a dbt subprocess, Dagster's log tailers)
  counts as part of it, and a signal to the build's group (Ctrl-C, ``kill -- -<pgid>``) reaches the
  build only, which forwards it (``meshwork.runtime.build_processes``);
- on Linux, asks the kernel for SIGTERM when the thread that started it ends (``prctl(PR_SET_PDEATHSIG)``,
  kept across ``exec``): a ``kill -9`` of the build, which the build cannot catch, still ends the run,
  and Dagster records a SIGTERM'd run as failed and frees its pool slot. Other systems have no such call:
  there a killed build leaves its runs to finish on their own;
- adds the run tag :data:`WORKER_TAG` = ``host:pid:start time``, so any process on the host can tell
  whether the run's worker still exists (:func:`is_gone`, used by ``meshwork.runtime.orphan_runs``).

Imports stay light (no Dagster): this runs before every domain's run.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys

import psutil

WORKER_TAG = "meshwork/worker"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# psutil derives a start time from clock ticks (1/100 s): the same process always reads the same value.
_SAME_START = 0.05


def command(parent_pid: int, run: list[str]) -> list[str]:
    """``run`` started through this module by the process ``parent_pid``."""
    return [sys.executable, "-m", __name__, str(parent_pid), *run]


def worker_tag(pid: int | None = None) -> str:
    proc = psutil.Process(pid)
    return f"{socket.gethostname()}:{proc.pid}:{proc.create_time():.2f}"


def with_worker_tag(run: list[str], tag: str) -> list[str]:
    """``run`` with :data:`WORKER_TAG` merged into the JSON after its ``--tags`` (unchanged without one)."""
    if "--tags" not in run:
        return run
    at = run.index("--tags") + 1
    return [*run[:at], json.dumps({**json.loads(run[at]), WORKER_TAG: tag}), *run[at + 1 :]]


def is_gone(tag: str) -> bool:
    """True when the worker named by ``tag`` and every process of its group have exited.

    False while any of them runs, and when the tag names another host or cannot be read: from here
    nothing can be told about those, so they are never declared dead.
    """
    try:
        host, pid_text, start_text = tag.rsplit(":", 2)
        pid, start = int(pid_text), float(start_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    try:
        leader = psutil.Process(pid)
        if abs(leader.create_time() - start) > _SAME_START:
            # Another process has the pid now. Linux reissues a pid only once no process group
            # uses it any more, so nothing of the worker's group is left.
            return True
        if leader.status() != psutil.STATUS_ZOMBIE:
            return False
    except psutil.NoSuchProcess:
        pass
    return not _group_alive(pid)


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is in the group: a step's dbt may outlive a killed worker."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's group: it exists
        return True
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except OSError:  # exited while listing
            continue
    # Only zombies: exited processes whose parent has not reaped them (a container's PID 1 may never).
    return False


def die_with_parent(parent_pid: int) -> None:
    """SIGTERM to this process when the thread that started it ends; exit now if ``parent_pid`` is gone."""
    # That SIGTERM must end the run: an ignored disposition or a blocked mask inherited from whatever
    # started the build survives fork and exec, and would let the run outlive its build.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    # The parent may have died before the call above: then no signal would ever come.
    if os.getppid() != parent_pid:
        sys.exit(f"meshwork: the build (pid {parent_pid}) that started this run has exited; not starting it")


def main(argv: list[str]) -> None:
    parent_pid, run = int(argv[0]), argv[1:]
    die_with_parent(parent_pid)
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)
    run = with_worker_tag(run, worker_tag())
    os.execv(run[0], run)


if __name__ == "__main__":
    main(sys.argv[1:])
