"""A `mesh build` run belongs to its code location: created with the origins a launch from the workspace records.

The webserver lists a job's runs by job name and the tag `.dagster/repository=<repository>@<location>`, which
Dagster derives from the run's remote origin; the end-to-end proof against a real webserver is in
tests/integration/test_ui_launch.py.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from meshwork.runtime import located_runs
from meshwork.runtime.instance import ensure_local_instance

REPOSITORY_LABEL = ".dagster/repository"  # the tag the webserver's job page filters runs by


def write_workspace(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workspace.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_locations_are_named_as_dagster_names_them(tmp_path: Path):
    workspace = write_workspace(
        tmp_path,
        """
load_from:
  - python_module: plain.module
  - python_module: {module_name: with.attr, attribute: defs}
  - python_module: {module_name: domains.sales.definitions, location_name: sales, working_directory: /srv/x}
  - python_file: ignored.py
""",
    )
    found = {loc.name: loc for loc in located_runs.locations(workspace)}
    assert set(found) == {"plain.module", "with.attr:defs", "sales"}
    assert found["with.attr:defs"].attribute == "defs"
    assert found["sales"].module_name == "domains.sales.definitions"
    assert found["sales"].working_directory == "/srv/x"


def test_an_unknown_location_is_refused_naming_the_workspace(tmp_path: Path):
    workspace = write_workspace(tmp_path, "load_from:\n  - python_module: {module_name: a.b, location_name: a}\n")
    with pytest.raises(located_runs.LocationNotFound, match="no python_module code location named 'sales'"):
        located_runs.workspace_location("sales", workspace)
    with pytest.raises(located_runs.LocationNotFound, match=r"no code location loads domains\.nowhere\.definitions"):
        located_runs.domain_location("nowhere")


def test_each_domain_runs_in_the_location_workspace_yaml_gives_it():
    assert located_runs.domain_location("sales") == "sales"
    assert located_runs.domain_location("marketing") == "marketing"


def test_the_run_carries_the_origin_the_job_page_filters_by():
    ensure_local_instance()
    with dg.DagsterInstance.get() as instance:
        run = located_runs.create_run(instance, "sales", "sales_build", {"meshwork/build": "b1"})
        assert run.remote_job_origin is not None
        assert run.remote_job_origin.location_name == "sales"
        assert run.remote_job_origin.repository_origin.repository_name == "__repository__"
        assert run.job_code_origin is not None and run.job_code_origin.job_name == "sales_build"
        # Exactly the filter of the webserver's job page (Pipeline.runs).
        listed = instance.get_runs(
            filters=dg.RunsFilter(job_name="sales_build", tags={REPOSITORY_LABEL: "__repository__@sales"})
        )
        assert [r.run_id for r in listed] == [run.run_id]
        stored = instance.get_run_by_id(run.run_id)
        assert stored is not None and stored.tags["dagster/code_location"] == "sales"
        assert stored.tags["meshwork/build"] == "b1"
        # The domain tag comes from the job, as with any launch of it (the run queue's per-domain limit).
        assert stored.tags["meshwork/domain"] == "sales"
        assert stored.status == dg.DagsterRunStatus.NOT_STARTED


def test_the_execute_command_is_dagsters_launcher_command_for_that_run():
    ensure_local_instance()
    with dg.DagsterInstance.get() as instance:
        run = located_runs.create_run(instance, "sales", "sales_build", {})
    command = located_runs.execute_run_command(run)
    assert command[:3] == ["dagster", "api", "execute_run"]
    assert run.run_id in command[3]


def test_an_unknown_job_or_location_exits_2_and_starts_nothing(capsys: pytest.CaptureFixture[str]):
    ensure_local_instance()
    assert located_runs.main(["nowhere", "nowhere_build"]) == 2
    assert "no python_module code location named 'nowhere'" in capsys.readouterr().err
    assert located_runs.main(["sales", "no_such_job"]) == 2
    assert "code location 'sales' has no job 'no_such_job'" in capsys.readouterr().err
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs() == []
