"""dbt run inside the step's own process, through dbt's programmatic API.

dagster-dbt's ``DbtCliResource.cli`` starts ``dbt`` as a subprocess and parses its JSON log. That
subprocess pays Python's start, ``import dbt`` and dbt's one-off set-up again, and the step itself
already imported dbt to build an adapter handle we never use: about 7 s of a domain run for
under 1 s of model work. Here dbt runs through ``dbtRunner`` in this process; its structured
events (the very messages the JSON log is made of) are turned into Dagster events by dagster-dbt's
own ``DbtCliEventMessage.to_default_asset_events``, with the selection dagster-dbt computes for a
subsetted run, so materializations, asset checks and their metadata are the same as on the
subprocess path (kept behind ``MESH_DBT_IN_PROCESS=0``).
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtCliRuntimeError, DagsterDbtTranslator, DbtCliResource
from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

# The events dagster-dbt turns into Dagster events (DbtCoreCliEventMessage.is_result_event).
_RESULT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})
_PARTIAL_PARSE = "partial_parse.msgpack"

DbtEvent = dg.Output | dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckResult | dg.AssetCheckEvaluation


@dataclass
class _Collector:
    """dbt callback: keeps the events dagster-dbt needs, as the dicts dbt writes to its JSON log."""

    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __call__(self, msg: Any) -> None:
        info = msg.info
        if info.level == "error":
            self.errors.append(info.msg)
        if info.name in _RESULT_EVENTS:
            from dbt_common.events.functions import msg_to_dict  # dbt's, as for dbtRunner below

            self.events.append(msg_to_dict(msg))


def _release_warehouse() -> None:
    # dbt-duckdb keeps its database open for the life of the process (keep_open defaults to true);
    # the domain's own connections and the contract gates must be able to open the file next.
    with contextlib.suppress(ImportError):
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager  # only once dbt has run

        with contextlib.suppress(Exception):
            DuckDBConnectionManager.env().close()
        DuckDBConnectionManager.close_all_connections()


def dbt_args(resource: DbtCliResource, args: Sequence[str], target_path: Path) -> list[str]:
    """The flags dagster-dbt passes to its subprocess through the environment, as dbt CLI flags."""
    profiles = ["--profiles-dir", resource.profiles_dir] if resource.profiles_dir else []
    profile = ["--profile", resource.profile] if resource.profile else []
    target = ["--target", resource.target] if resource.target else []
    return [
        *resource.global_config_flags,
        *args,
        "--project-dir",
        resource.project_dir,
        *profiles,
        *profile,
        *target,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path),
        "--no-send-anonymous-usage-stats",
    ]


# Manifests parsed ahead of the runs by the warm worker of `mesh build` (keep_parsed), which forks
# every run from a process that holds them: (project dir, vars, target) -> Manifest.
_kept: dict[tuple[str, str, str], Any] = {}


def keep_parsed(resource: DbtCliResource, vars_json: str, target: Path) -> None:
    """Parse now and let every later :func:`parse` of the same project, vars and target in this
    process (and in the processes forked from it) take that manifest instead of parsing again.

    For a process that lives no longer than one build (``meshwork.runtime.warm_worker``): the
    project's files are not watched afterwards.
    """
    _kept[(str(resource.project_dir), vars_json, str(target))] = parse(resource, vars_json, target)


def parse(resource: DbtCliResource, vars_json: str, target: Path) -> Any:
    """The project's dbt ``Manifest``, parsed in this process with ``vars_json`` into ``target``.

    dbt throws its partial parse away whenever the profile differs, and the profile names the
    domain's warehouse file, so a domain's first run in a fresh MESH_HOME parsed the whole project.
    The parse here uses one profile for every domain (the code location's, never opened), so the
    partial parse in ``target`` is shared by all domains; the runs then get the manifest as an object.
    Domains may run side by side: the parse holds a lock on ``target``.
    """
    if (kept := _kept.get((str(resource.project_dir), vars_json, str(target)))) is not None:
        return kept
    # Deferred: importing dbt costs ~1.5 s, paid only by a run that executes dbt in process.
    from dbt.cli.main import dbtRunner

    target.mkdir(parents=True, exist_ok=True)
    # The code location's parse used the same vars and profile: start from it, like dagster-dbt does.
    seed = Path(resource.project_dir) / "target" / _PARTIAL_PARSE
    with (target / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if seed.exists() and not (target / _PARTIAL_PARSE).exists():
            shutil.copy(seed, target / _PARTIAL_PARSE)
        # No manifest.json here: writing it costs about a second and nobody reads this copy.
        args = dbt_args(resource, ["parse", "--vars", vars_json, "--no-write-json"], target)
        result = dbtRunner().invoke(args)
    if not result.success or result.result is None:
        raise DagsterDbtCliRuntimeError(
            description=f"dbt could not parse the project (in process): {result.exception}. "
            f"See the dbt log: {target / 'dbt.log'}"
        )
    return result.result


def run(
    resource: DbtCliResource,
    args: Sequence[str],
    *,
    context: dg.AssetExecutionContext,
    target_path: Path,
    parse_vars: str,
    parse_target: Path,
) -> Iterator[DbtEvent]:
    """``dbt <args>`` for the assets selected in ``context``, yielding what ``dbt.cli(...).stream()`` would.

    The project is parsed first with ``parse_vars`` into ``parse_target`` (see :func:`parse`), and the
    run reuses that manifest instead of parsing again with its own profile.
    """
    from dbt.cli.main import dbtRunner  # deferred, as in parse()

    cleaned, selects, excludes = extract_runtime_selection_from_args(args)
    params = get_updated_cli_invocation_params_for_context(
        context=context,
        manifest={},
        dagster_dbt_translator=DagsterDbtTranslator(),  # replaced by the assets definition's own
        runtime_selects=selects,
        runtime_excludes=excludes,
    )
    indirect = ["--indirect-selection", params.indirect_selection] if params.indirect_selection else []
    full_args = dbt_args(resource, [*cleaned, *params.selection_args, *indirect], target_path)

    started = time.monotonic()
    manifest = parse(resource, parse_vars, parse_target)
    command = "dbt " + " ".join(full_args)
    context.log.info(f"Parsed the project in {time.monotonic() - started:.1f}s; running dbt in process: `{command}`.")
    collector = _Collector()
    try:
        result = dbtRunner(manifest=manifest, callbacks=[collector]).invoke(full_args)
    finally:
        _release_warehouse()
    context.log.info(f"Finished dbt in process in {time.monotonic() - started:.1f}s: `{command}`.")
    if result.exception is not None and not isinstance(result.exception, Exception):
        raise result.exception  # an interrupt (run terminated): not a dbt failure to describe

    for raw in collector.events:
        event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        yield from event.to_default_asset_events(
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            context=context,
            target_path=target_path,
            project=params.dbt_project,
        )

    if not result.success:
        errors = list(collector.errors)
        if result.exception is not None:
            errors.append(f"{type(result.exception).__name__}: {result.exception}")
        detail = "\n\n".join(["", "Errors reported by dbt:", *errors]) if errors else ""
        log = target_path / "dbt.log"
        raise DagsterDbtCliRuntimeError(
            description=f"dbt failed (in process) running\n\n`{command}`\n\n"
            f"See the dbt log for the full information: {log}.{detail}"
        ) from (result.exception if isinstance(result.exception, Exception) else None)
