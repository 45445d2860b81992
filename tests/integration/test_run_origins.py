"""With no webserver or daemon running, `mesh build` runs belong to their code location and CI's
`dagster asset materialize -m domains.<d>.definitions --select '*'` still builds a domain."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import dagster_cli, mesh_cli

pytestmark = pytest.mark.slow

PRODUCTS = {dg.AssetKey(["customers", "customer_profiles"])}  # customers reads no other domain


def test_mesh_build_and_asset_materialize_both_work_without_a_webserver(mesh_home: Path):
    env = dict(os.environ)
    assert mesh_cli("generate", "--orders", "300", env=env).returncode == 0
    built = mesh_cli("build", "--domain", "customers", env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    ci = dagster_cli("asset", "materialize", "-m", "domains.customers.definitions", "--select", "*", env=env)
    assert ci.returncode == 0, ci.stdout[-3000:] + ci.stderr[-3000:]

    with dg.DagsterInstance.from_config(str(mesh_home / "dagster")) as instance:
        [build] = instance.get_runs(filters=dg.RunsFilter(job_name="customers_build"))
        [materialized] = instance.get_runs(filters=dg.RunsFilter(job_name="__ASSET_JOB"))
        assert build.status == dg.DagsterRunStatus.SUCCESS
        assert build.remote_job_origin is not None and build.remote_job_origin.location_name == "customers"
        assert build.tags["meshwork/build"].startswith("customers-")
        assert build.tags["meshwork/worker"]  # run_worker's crash-recovery tag is still there

        assert materialized.status == dg.DagsterRunStatus.SUCCESS
        assert set(materialized.asset_selection or ()) >= PRODUCTS
        assert materialized.remote_job_origin is None  # Dagster's own CLI records no location (docs/operations.md)
        for key in PRODUCTS:  # both runs materialized the product
            records = instance.fetch_materializations(key, limit=5).records
            assert {r.run_id for r in records} >= {build.run_id, materialized.run_id}
