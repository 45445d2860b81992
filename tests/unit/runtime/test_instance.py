"""The instance's dagster.yaml follows the settings: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from meshwork.runtime import instance

PG_URL = "postgresql://mesh:s3cret@db.internal:6543/dagster"


def config(mesh_home: Path) -> dict:
    return yaml.safe_load((mesh_home / "dagster" / "dagster.yaml").read_text(encoding="utf-8"))


def test_the_local_default_is_sqlite_with_one_slot_pools_and_one_run_per_domain(mesh_home: Path):
    instance.ensure_local_instance()
    written = config(mesh_home)
    assert "storage" not in written  # Dagster's default: SQLite under DAGSTER_HOME
    assert written["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    assert written["concurrency"]["runs"]["max_concurrent_runs"] == 2
    assert written["concurrency"]["runs"]["tag_concurrency_limits"] == [
        {"key": "meshwork/domain", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert (mesh_home / "dagster" / "history" / "runs.db").is_file()
    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as opened:
        assert type(opened.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(opened.run_storage).__name__ == "SqliteRunStorage"


def test_a_postgres_url_switches_the_storage_to_postgres_with_the_psycopg2_driver(
    mesh_home: Path, monkeypatch: pytest.MonkeyPatch
):
    instance.write_config(mesh_home / "dagster")  # an existing local instance is switched over
    monkeypatch.setenv("MESH_DAGSTER_POSTGRES_URL", PG_URL)
    monkeypatch.setenv("MESH_MAX_CONCURRENT_RUNS", "6")
    instance.write_config(mesh_home / "dagster")
    written = config(mesh_home)
    # The driver dagster-postgres works with, named: SQLAlchemy 2.1 would otherwise pick psycopg 3.
    assert written["storage"] == {
        "postgres": {"postgres_url": "postgresql+psycopg2://mesh:s3cret@db.internal:6543/dagster"}
    }
    assert written["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert written["concurrency"]["runs"]["max_concurrent_runs"] == 6
    assert (mesh_home / "dagster" / "dagster.yaml").stat().st_mode & 0o077 == 0  # it holds a password
    assert instance.storage_description() == "PostgreSQL at db.internal:6543/dagster (MESH_DAGSTER_POSTGRES_URL)"


def test_a_hand_managed_dagster_yaml_is_left_alone(mesh_home: Path, monkeypatch: pytest.MonkeyPatch):
    own = "run_launcher:\n  module: dagster_docker\n  class: DockerRunLauncher\n"
    (mesh_home / "dagster" / "dagster.yaml").write_text(own, encoding="utf-8")
    monkeypatch.setenv("MESH_DAGSTER_POSTGRES_URL", PG_URL)
    instance.write_config(mesh_home / "dagster")
    assert (mesh_home / "dagster" / "dagster.yaml").read_text(encoding="utf-8") == own


def test_an_unreachable_postgres_fails_with_a_message_naming_the_instance_storage(monkeypatch: pytest.MonkeyPatch):
    # Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    monkeypatch.setenv("MESH_DAGSTER_POSTGRES_URL", "postgresql://mesh:pw@127.0.0.1:9/dagster")
    with pytest.raises(instance.InstanceUnavailable) as failure:
        instance.ensure_local_instance()
    assert "cannot open the Dagster instance storage (PostgreSQL at 127.0.0.1:9/dagster" in str(failure.value)
    assert "pw@" not in str(failure.value)
    assert instance.storage_problem() == str(failure.value)
