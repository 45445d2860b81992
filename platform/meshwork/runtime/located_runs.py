"""Runs that belong to their code location, executed in this process: how ``mesh build`` runs a domain.

Dagster records two origins on a run it launches (from the UI, a schedule, a sensor, ``dagster job
launch``): the code location and repository it came from (``remote_job_origin``) and how to load its code
(``job_code_origin``). The webserver files runs under a job by the first: its job page lists the runs of
``<job>`` tagged ``.dagster/repository=<repository>@<location>``, the timeline groups runs by it, and
"Re-execute" launches the run again in that location. ``dagster job execute`` and ``dagster asset
materialize`` record only the second, so their runs belong to no location.

Launching through the instance's run coordinator would need the daemon to dequeue the run and a code
server per location to start it, and the run would be the code server's child rather than the build's
(``meshwork.runtime.build_processes`` relies on the latter). So this module does what Dagster's run
launchers do, in this process: create the run with the origins the workspace gives the job (read from
``workspace.yaml`` the way Dagster reads it), then execute it with ``dagster api execute_run``, the
command every launcher runs, invoked in-process so Dagster is imported once. Both origins are built
from Dagster's serialized form (``dg.deserialize_value``): the classes are not public, and their stored
form is what Dagster keeps readable across versions. ``tests/integration/test_ui_launch.py`` proves
the runs show under their job, carry the job's current snapshot and re-execute from the UI.

Command line (``mesh build`` runs it through ``meshwork.runtime.run_worker``)::

    python -m meshwork.runtime.located_runs LOCATION JOB [--tags JSON]

Exit codes: 0 the run succeeded, 1 it failed, 2 no such location or job.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import runpy
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from meshwork.core import settings, yamlsafe
from meshwork.core.errors import MeshError

# Dagster's storage names of the origin classes (serdes), stable across versions.
_REMOTE_JOB = "ExternalPipelineOrigin"
_REMOTE_REPOSITORY = "ExternalRepositoryOrigin"
_MANAGED_LOCATION = "ManagedGrpcPythonEnvRepositoryLocationOrigin"
_TARGET = "LoadableTargetOrigin"
_JOB_CODE = "PipelinePythonOrigin"
_REPOSITORY_CODE = "RepositoryPythonOrigin"
_MODULE_POINTER = "ModuleCodePointer"
_EXECUTE_RUN_ARGS = "ExecuteRunArgs"


class LocationNotFound(MeshError):
    """The workspace has no such code location (or it is not a ``python_module`` entry)."""


@dataclass(frozen=True)
class Location:
    """A ``python_module`` entry of workspace.yaml, with the fields Dagster reads from it."""

    name: str
    module_name: str
    attribute: str | None = None
    working_directory: str | None = None
    executable_path: str | None = None


def locations(workspace: Path | None = None) -> list[Location]:
    """The ``python_module`` entries of ``workspace.yaml``, named as Dagster names them: ``location_name``,
    else the module name (``module:attribute`` with an attribute)."""
    workspace = workspace or settings.workspace_file()
    found = []
    for entry in (yamlsafe.read(workspace) or {}).get("load_from") or []:
        config = entry.get("python_module") if isinstance(entry, dict) else None
        if isinstance(config, str):
            config = {"module_name": config}
        if not isinstance(config, dict) or not config.get("module_name"):
            continue
        module, attribute = config["module_name"], config.get("attribute")
        executable = config.get("executable_path")
        found.append(
            Location(
                name=config.get("location_name") or (f"{module}:{attribute}" if attribute else module),
                module_name=module,
                attribute=attribute,
                working_directory=config.get("working_directory"),
                executable_path=os.path.expanduser(executable) if executable else None,
            )
        )
    return found


def workspace_location(name: str, workspace: Path | None = None) -> Location:
    """The code location ``name`` of ``workspace.yaml``."""
    for location in locations(workspace):
        if location.name == name:
            return location
    raise LocationNotFound(f"{workspace or settings.workspace_file()}: no python_module code location named '{name}'")


def domain_location(domain: str) -> str:
    """The name of the code location that loads ``domains.<domain>.definitions``."""
    module = f"domains.{domain}.definitions"
    for location in locations():
        if location.module_name == module:
            return location.name
    raise LocationNotFound(f"{settings.workspace_file()}: no code location loads {module}")


def definitions(location: Location) -> tuple[str, dg.Definitions]:
    """The location's definitions and the module attribute that holds them (what its code pointer names)."""
    # As Dagster loads a module code pointer: from its working directory (here, as in the code origin).
    working_directory = location.working_directory or os.getcwd()
    if working_directory not in sys.path:
        sys.path.insert(0, working_directory)
    module = importlib.import_module(location.module_name)
    names = [location.attribute] if location.attribute else list(vars(module))
    found = []
    for name in names:
        value: Any = getattr(module, name, None)
        if isinstance(value, dg.Definitions):
            found.append((name, value))
        elif type(value).__name__ == "LazyDefinitions":  # a @dg.definitions function; its class is not exported
            found.append((name, value()))
    if len(found) != 1:
        what = "none" if not found else ", ".join(n for n, _ in found)
        raise LocationNotFound(f"{location.module_name}: expected one Definitions (or @dg.definitions), found {what}")
    return found[0]


def remote_job_origin(location: Location, repository: str, job: str) -> Any:
    """The origin a launch from the workspace records: what the webserver files the run under."""
    target = {
        "__class__": _TARGET,
        "attribute": location.attribute,
        "executable_path": location.executable_path,
        "module_name": location.module_name,
        "package_name": None,
        "python_file": None,
        "working_directory": location.working_directory,
    }
    origin = {
        "__class__": _REMOTE_JOB,
        "external_repository_origin": {
            "__class__": _REMOTE_REPOSITORY,
            "repository_location_origin": {
                "__class__": _MANAGED_LOCATION,
                "loadable_target_origin": target,
                "location_name": location.name,
            },
            "repository_name": repository,
        },
        "pipeline_name": job,
    }
    return _deserialize(origin)


def _deserialize(stored: dict[str, Any]) -> Any:
    """The Dagster object whose stored form is ``stored`` (typed Any: its class is not public)."""
    return dg.deserialize_value(json.dumps(stored))


def job_code_origin(location: Location, attribute: str, job: str) -> dict[str, Any]:
    """How a process loads the job: the module, its definitions attribute, the working directory (serialized)."""
    return {
        "__class__": _JOB_CODE,
        "pipeline_name": job,
        "repository_origin": {
            "__class__": _REPOSITORY_CODE,
            "code_pointer": {
                "__class__": _MODULE_POINTER,
                "fn_name": attribute,
                "module": location.module_name,
                "working_directory": location.working_directory or os.getcwd(),
            },
            "container_context": {},
            "container_image": None,
            "entry_point": ["dagster"],
            "executable_path": location.executable_path or sys.executable,
        },
    }


def create_run(
    instance: dg.DagsterInstance,
    location_name: str,
    job: str,
    tags: Mapping[str, str],
    loaded: tuple[str, dg.Definitions] | None = None,
) -> dg.DagsterRun:
    """Create (not start) a run of ``job`` that belongs to ``location_name``, as a launch would.

    ``loaded``: the location's definitions, already loaded by :func:`definitions` in this process.
    """
    location = workspace_location(location_name)
    attribute, defs = loaded or definitions(location)
    try:
        job_def = defs.resolve_job_def(job)
    except dg.DagsterInvariantViolationError as exc:
        raise LocationNotFound(f"code location '{location_name}' has no job '{job}'") from exc
    code_origin = job_code_origin(location, attribute, job)
    return instance.create_run_for_job(
        job_def=job_def,
        tags={**job_def.run_tags, **tags},  # as every launch does: the job's tags, then the caller's
        remote_job_origin=remote_job_origin(location, defs.get_repository_def().name, job),
        job_code_origin=_deserialize(code_origin),
    )


def keep_loaded(location: Location, attribute: str, defs: dg.Definitions) -> None:
    """Let ``dagster api execute_run`` in this process reuse the definitions loaded here.

    It loads the job through the run's code pointer (module and attribute). A ``@dg.definitions``
    function would be called again, building every asset, check and the dbt manifest's specs a second
    time; with the attribute set to the Definitions that function returned in this process a moment
    ago, Dagster takes them (and the repository they cached) as they are. Only this process's module
    changes; the run's origin still names the function.
    """
    setattr(sys.modules[location.module_name], attribute, defs)


def execute_run_command(run: dg.DagsterRun) -> list[str]:
    """``dagster api execute_run`` of a created run: the command Dagster's run launchers start."""
    args = {
        "__class__": _EXECUTE_RUN_ARGS,
        "pipeline_origin": json.loads(dg.serialize_value(run.job_code_origin)),
        "pipeline_run_id": run.run_id,
        "instance_ref": None,  # the instance of DAGSTER_HOME, the one the run was created in
        "set_exit_code_on_failure": True,
    }
    return ["dagster", "api", "execute_run", json.dumps(args)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m meshwork.runtime.located_runs",
        description="Run a job of a workspace code location in this process, recorded under that location.",
    )
    parser.add_argument("location", help="the code location's name in workspace.yaml")
    parser.add_argument("job", help="the job to run")
    parser.add_argument("--tags", default="{}", help="JSON object of run tags")
    args = parser.parse_args(argv)
    try:
        tags = json.loads(args.tags)
        location = workspace_location(args.location)
        loaded = definitions(location)
        with dg.DagsterInstance.get() as instance:
            run = create_run(instance, args.location, args.job, tags, loaded)
    except (LocationNotFound, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keep_loaded(location, *loaded)
    print(f"meshwork: run {run.run_id} of {args.job} in code location {args.location}", flush=True)
    # Dagster's own CLI, in this process: its modules and the location's code are imported already.
    sys.argv = execute_run_command(run)
    try:
        runpy.run_module("dagster", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
