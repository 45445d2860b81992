"""An error while *building* a lineage event never fails the run: it is logged and the run goes on."""

from __future__ import annotations

import logging

import dagster as dg
import pytest

from meshwork.model.loader import load_mesh
from meshwork.runtime import run_lineage


@pytest.mark.parametrize("hook", ["started", "failed"])
def test_an_error_building_the_event_is_logged_not_raised(hook: str, caplog: pytest.LogCaptureFixture):
    mesh = load_mesh()
    product = mesh.product("support/tickets")
    # A directly invoked context has no run: building the event's run facet raises inside the hook.
    context = dg.build_asset_context()
    with pytest.raises(dg.DagsterError):
        _ = context.run
    args = (context, mesh, product) if hook == "started" else (context, mesh, product, "boom")
    with caplog.at_level(logging.ERROR, logger="meshwork.lineage.events"):
        assert getattr(run_lineage, hook)(*args) is None
    assert any("could not build or send the event" in r.getMessage() for r in caplog.records)
    assert any(r.exc_info and isinstance(r.exc_info[1], dg.DagsterError) for r in caplog.records)
