"""The whole-mesh build: every domain materialized through Dagster, producers before consumers.

Each domain runs its build job, ``<domain>_build``, as a run of the domain's code location
(``meshwork.runtime.located_runs``: it shows on the job's page and the timeline and re-executes from
the UI, as a launched run does). The job selects every product and check, like ``dagster asset
materialize --select '*'``, and also tags the run with its domain (``meshwork/domain``), which the run
queue's per-domain limit counts; Dagster's implicit asset job behind ``asset materialize`` cannot carry
run tags. Domains whose upstream domains are done run
side by side (their warehouses are separate files). A domain is built by one build at a time, and a
build's runs do not outlive it (``meshwork.runtime.build_processes``, ``meshwork.runtime.run_worker``).
Each run is forked from one warm worker that imported Dagster and dbt and parsed the dbt project once
for the whole build (``meshwork.runtime.warm_worker``; ``MESH_WARM_WORKER=0``: a fresh process per run).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from meshwork.core import settings
from meshwork.core.errors import MeshError
from meshwork.model.mesh import Mesh
from meshwork.runtime import (
    build_failures,
    build_processes,
    instance,
    located_runs,
    orphan_runs,
    parent_lineage,
    run_worker,
    warm_runs,
)
from meshwork.runtime.domain_runs import build_job_name


@dataclass
class DomainResult:
    domain: str
    ok: bool
    seconds: float
    log: Path
    returncode: int
    build_id: str = ""
    # What failed, per product (meshwork.runtime.build_failures), for the console and --json.
    failures: list[build_failures.ProductFailure] = field(default_factory=list)


@dataclass
class BuildResult:
    domains: list[DomainResult] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_bytes: int = 0
    skipped: list[str] = field(default_factory=list)
    # The signal that interrupted the build (its runs were stopped, nothing more started).
    interrupted: int | None = None
    # Set when the instance storage stopped answering: no later domain could record its run.
    storage_error: str | None = None

    @property
    def ok(self) -> bool:
        ok = all(d.ok for d in self.domains)
        return ok and not self.skipped and not self.storage_error and not self.interrupted


def materialize_command(domain: str, build_id: str | None = None) -> list[str]:
    """The run of the domain's build job, recorded under the domain's code location
    (``meshwork.runtime.located_runs``); with a build id, as a worker of this process (``run_worker``)."""
    location = located_runs.domain_location(domain)
    command = [sys.executable, "-m", located_runs.__name__, location, build_job_name(domain)]
    if not build_id:
        return command
    return run_worker.command(os.getpid(), [*command, "--tags", json.dumps({orphan_runs.BUILD_TAG: build_id})])


class PeakMemory:
    """Samples the memory of a process (default: this one) and all its children, the whole build tree.

    ``peak`` counts each page once however many processes map it: the sum of the processes' PSS
    (proportional set size; Linux). Runs forked from the warm worker share its pages (Dagster, dbt,
    the parsed project) until they write them; adding up resident sets would count those pages once
    per process. ``peak_rss`` is that sum anyway, for comparison. Where PSS cannot be read, both are RSS.
    """

    def __init__(self, interval: float = 0.2, pid: int | None = None):
        self.interval = interval
        self.pid = pid
        self.peak = 0
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(psutil.Error):  # the process watched has ended
            root = psutil.Process(self.pid)
            while not self._stop.is_set():
                proportional = resident = 0
                for proc in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):  # a child may exit between listing and reading
                        try:
                            memory = proc.memory_full_info()
                            proportional += getattr(memory, "pss", memory.rss)
                        except psutil.AccessDenied:
                            memory = proc.memory_info()
                            proportional += memory.rss
                        resident += memory.rss
                self.peak = max(self.peak, proportional)
                self.peak_rss = max(self.peak_rss, resident)
                self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _domain_env(domain: str) -> dict[str, str]:
    """The child's environment: in the enforced mode, this domain's own credentials and no one else's."""
    own = settings.domain_environment(domain)
    env = settings.subprocess_env(own)
    if settings.service_url():
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "MESH_SERVICE_TOKEN_FILE"):
            if name not in own:
                env.pop(name, None)
    return env


def _check_credentials(domains: list[str]) -> None:
    """Enforced mode: refuse to start unless every domain to build has credentials of its own."""
    if not settings.service_url():
        return
    if not os.environ.get("MESH_DOMAIN_CREDENTIALS_DIR"):
        raise MeshError("enforced mode (MESH_SERVICE_URL) needs MESH_DOMAIN_CREDENTIALS_DIR: one credential per domain")
    for domain in domains:
        try:
            settings.domain_environment(domain)
        except (FileNotFoundError, KeyError, ValueError) as exc:
            raise MeshError(f"enforced mode: {exc}") from exc


def _start_run(
    domain: str, build_id: str, children: build_processes.Children, lock: int, out: IO[str], uses_dbt: bool
) -> int:
    """The domain's run, forked by the warm worker when there is one, else a fresh process; its exit code.

    A run without dbt products does not wait for the worker's dbt parse."""
    env, cwd = _domain_env(domain), settings.project_dir()
    if (worker := warm_runs.current()) is not None:
        argv = warm_runs.located_command(
            located_runs.domain_location(domain), build_job_name(domain), {orphan_runs.BUILD_TAG: build_id}
        )
        try:
            return children.run_started(
                lambda: worker.start(argv, env=env, cwd=cwd, out=out, keep_fd=lock, needs_dbt=uses_dbt)
            )
        except warm_runs.WorkerGone as exc:
            out.write(f"meshwork: {exc}; running {domain} in a fresh process instead\n")
            out.flush()
    return children.run(materialize_command(domain, build_id), keep_fd=lock, out=out, cwd=cwd, env=env)


def _run_domain(
    domain: str, log_dir: Path, children: build_processes.Children, say: Callable[[str], None], uses_dbt: bool
) -> DomainResult:
    log = log_dir / f"{domain}.log"
    build_id = orphan_runs.new_build_id(domain)
    with build_processes.domain_lock(domain, children.stop, say) as lock, log.open("w", encoding="utf-8") as out:
        start = time.monotonic()  # the wait for another build's lock is not this build's time
        returncode = _start_run(domain, build_id, children, lock, out, uses_dbt)
        if returncode != 0 and (closed := orphan_runs.close_or_remember(build_id, instance.ping)):
            out.write(f"meshwork: marked run(s) {', '.join(closed)} failed; the process ended without doing so\n")
        parent_lineage.end_build_runs(build_id)  # no daemon needed for the domain run's end event
    return DomainResult(domain, returncode == 0, time.monotonic() - start, log, returncode, build_id)


def build(
    mesh: Mesh,
    domains: list[str] | None = None,
    parallelism: int = 2,
    progress: Callable[[str], None] = print,
    verbose: bool = False,
) -> BuildResult:
    """Build ``domains`` (default: all) in dependency order; stop scheduling consumers of a failure.

    Raises ``instance.InstanceUnavailable`` before anything runs if the instance storage is down.
    """
    warm_runs.ensure_instance()
    wanted = set(domains or mesh.domains)
    order = [d for d in mesh.domain_order() if d in wanted]
    _check_credentials(order)
    # The pid keeps two builds started in the same second apart.
    log_dir = settings.logs_dir() / f"{time.strftime('build-%Y%m%dT%H%M%S')}-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    result = BuildResult()
    done: dict[str, bool] = {}
    running: dict[Future, str] = {}
    pending = list(order)
    started = time.monotonic()
    total = len(order)
    children = build_processes.Children()
    with (
        PeakMemory() as memory,
        children.forwarding_signals(),
        # Started here, in the calling thread, which outlives every run (the worker dies with it).
        warm_runs.session(log_dir / "warm-worker.log", instance_ready=True),
        ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool,
    ):
        while pending or running:
            for domain in list(pending):
                ups = mesh.upstream_domains(domain) & wanted
                if children.stop.is_set():
                    pending.remove(domain)
                    result.skipped.append(domain)
                    progress(f"[skip] {domain}: the build was interrupted")
                elif result.storage_error:
                    pending.remove(domain)
                    result.skipped.append(domain)
                    progress(f"[skip] {domain}: the Dagster instance storage is unavailable")
                elif any(done.get(u) is False for u in ups) or any(u in result.skipped for u in ups):
                    pending.remove(domain)
                    result.skipped.append(domain)
                    progress(f"[skip] {domain}: an upstream domain failed")
                elif all(done.get(u) for u in ups) and len(running) < parallelism:
                    pending.remove(domain)
                    progress(f"[{len(done) + len(running) + 1}/{total}] building {domain} …")
                    uses_dbt = any(p.descriptor.implementation.engine == "dbt" for p in mesh.domains[domain].products)
                    running[pool.submit(_run_domain, domain, log_dir, children, progress, uses_dbt)] = domain
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                domain = running.pop(future)
                try:
                    outcome = future.result()
                except build_processes.Stopped:  # interrupted while it waited for another build
                    result.skipped.append(domain)
                    progress(f"[skip] {domain}: the build was interrupted")
                    continue
                result.domains.append(outcome)
                done[domain] = outcome.ok
                status = "ok" if outcome.ok else f"FAILED (exit {outcome.returncode}, log: {outcome.log})"
                progress(f"      {domain} {status} in {outcome.seconds:.1f}s")
                if not outcome.ok:
                    outcome.failures = _failures(mesh, outcome)
                    progress(build_failures.describe(outcome.failures, outcome.log, verbose))
                    if verbose:  # the log's tail, stack traces included
                        progress(_tail(outcome.log))
                    # A run that lost its instance storage fails with a driver error deep in the
                    # log; name the real cause, and start nothing more that could not be recorded.
                    if not result.storage_error and (problem := instance.storage_problem()):
                        result.storage_error = problem
                        progress(f"error: {problem}")
    result.interrupted = children.signalled
    result.seconds = time.monotonic() - started
    result.peak_rss_bytes = memory.peak
    return result


def _failures(mesh: Mesh, outcome: DomainResult) -> list[build_failures.ProductFailure]:
    try:
        return build_failures.collect(mesh, outcome.domain, outcome.build_id)
    except Exception as exc:  # the instance storage is down (whatever its driver raises): the log still tells
        return [build_failures.ProductFailure(outcome.domain, "error", f"could not read the run's events: {exc}")]


def _tail(log: Path, lines: int = 25) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    interesting = [line for line in text if "DEBUG" not in line][-lines:]
    return "\n".join("        | " + line for line in interesting)
