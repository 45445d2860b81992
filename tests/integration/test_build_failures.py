"""`mesh build` tells each failure on the console: the product, the exception's own message and where it
was raised (Python file:line, dbt model), the log's path; a stack trace only with --verbose."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import mesh_cli

pytestmark = pytest.mark.slow


def env_for(project: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_PROJECT_DIR": str(project),
    }


def break_tickets(project: Path) -> int:
    """support/tickets raises on its first line; the line number of the raise."""
    code = project / "domains/support/products/tickets.py"
    text = code.read_text()
    marker = "    dump = ctx.source_path("
    code.write_text(
        text.replace(marker, '    raise ValueError("the helpdesk export has no tickets header")\n' + marker)
    )
    return text[: text.index(marker)].count("\n") + 1


def test_a_python_error_and_a_dbt_sql_error_are_told_per_product_with_file_line_and_log(project: Path, mesh_home: Path):
    env = env_for(project, mesh_home)
    line = break_tickets(project)
    sql = project / "dbt_project/models/sales/marts/orders.sql"
    sql.write_text(sql.read_text().replace("from deduplicated", "from from deduplicated"))

    result = mesh_cli(
        "build", "--orders", "200", "--domain", "customers", "--domain", "sales", "--domain", "support", "--json",
        cwd=project, env=env,
    )  # fmt: skip
    assert result.returncode == 1
    console = result.stderr
    logs = sorted((mesh_home / "logs").glob("build-*"))
    assert len(logs) == 1
    assert (
        "support/tickets: ValueError: the helpdesk export has no tickets header "
        f"(domains/support/products/tickets.py:{line})" in console
    ), console[-4000:]
    assert f"log: {logs[0] / 'support.log'}" in console
    assert "sales/orders:" in console and "syntax error" in console, console[-4000:]
    assert "dbt_project/models/sales/marts/orders.sql" in console
    assert f"log: {logs[0] / 'sales.log'}" in console
    assert "Traceback" not in console and "Traceback" not in result.stdout

    report = {d["domain"]: d for d in json.loads(result.stdout)["domains"]}
    assert report["customers"]["failures"] == []
    (tickets,) = report["support"]["failures"]
    assert tickets["product"] == "support/tickets" and tickets["kind"] == "error"
    assert tickets["message"] == "ValueError: the helpdesk export has no tickets header"
    assert tickets["location"] == f"domains/support/products/tickets.py:{line}"
    assert [f["product"] for f in report["sales"]["failures"]] == ["sales/orders"]
    assert report["sales"]["failures"][0]["location"].startswith("dbt_project/models/sales/marts/orders.sql")


def test_verbose_adds_the_stack_trace(project: Path, mesh_home: Path):
    env = env_for(project, mesh_home)
    break_tickets(project)
    # support reads nothing before it raises: it builds alone.
    quiet = mesh_cli("build", "--orders", "200", "--domain", "support", cwd=project, env=env)
    verbose = mesh_cli("build", "--domain", "support", "--verbose", cwd=project, env=env)
    assert quiet.returncode == verbose.returncode == 1
    assert "support/tickets: ValueError" in quiet.stdout and "Traceback" not in quiet.stdout + quiet.stderr
    assert "support/tickets: ValueError" in verbose.stdout
    assert 'tickets.py", line' in verbose.stdout  # the trace, frame by frame
