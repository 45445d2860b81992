"""Every way a domain's runs start tags them with the domain, which the run queue limits to one at a time."""

from __future__ import annotations

import dagster as dg
import pytest

from meshwork.locations.domain import domain_definitions
from meshwork.model.loader import load_mesh

DOMAINS = sorted(load_mesh(check_grants=False).domains)


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_build_job_and_every_schedule_tag_their_runs_with_the_domain(domain: str):
    defs = domain_definitions(domain)
    job = defs.resolve_job_def(f"{domain}_build")
    assert job.run_tags["meshwork/domain"] == domain
    # The build job covers what `dagster asset materialize --select '*'` would: every product.
    assert job.asset_layer.executable_asset_keys == set(defs.resolve_asset_graph().materializable_asset_keys)
    for schedule in defs.schedules or []:
        assert isinstance(schedule, dg.ScheduleDefinition)
        requests = schedule.evaluate_tick(dg.build_schedule_context()).run_requests or []
        # A run gets its job's run tags, then the request's (which include the schedule's tags).
        job_tags = defs.resolve_job_def(schedule.job_name).run_tags
        tagged = [{**job_tags, **r.tags}.get("meshwork/domain") for r in requests]
        assert tagged and set(tagged) == {domain}, schedule.name


@pytest.mark.parametrize("domain", DOMAINS)
def test_automated_domains_replace_the_default_sensor_with_a_tagged_one(domain: str):
    repo = domain_definitions(domain).get_repository_def()
    automated = {s.name: s for s in repo.sensor_defs if isinstance(s, dg.AutomationConditionSensorDefinition)}
    graph = repo.asset_graph
    has_conditions = any(graph.get(k).automation_condition for k in graph.materializable_asset_keys)
    if not has_conditions:
        assert automated == {}
        return
    assert set(automated) == {f"{domain}_automation"}  # no untagged default_automation_condition_sensor
    assert automated[f"{domain}_automation"].run_tags == {"meshwork/domain": domain}
    assert automated[f"{domain}_automation"].default_status == dg.DefaultSensorStatus.RUNNING
