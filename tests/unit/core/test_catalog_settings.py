"""Where the catalog is served and where the Dagster UI is: the links between them."""

from __future__ import annotations

import pytest

from meshwork.core import settings


def test_by_default_assets_link_to_the_catalog_where_mesh_dev_serves_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MESH_CATALOG_URL", raising=False)
    monkeypatch.delenv("MESH_CATALOG_PORT", raising=False)
    assert settings.catalog_url() == "http://127.0.0.1:3001"
    monkeypatch.setenv("MESH_CATALOG_PORT", "8123")
    assert settings.catalog_url() == "http://127.0.0.1:8123"
    monkeypatch.setenv("MESH_CATALOG_URL", "https://catalog.example.com/mesh/")
    assert settings.catalog_url() == "https://catalog.example.com/mesh"


@pytest.mark.parametrize("raw", ["http", "0", "70000", "-1"])
def test_a_catalog_port_that_is_not_a_port_is_refused_with_the_setting_named(monkeypatch, raw: str):
    monkeypatch.setenv("MESH_CATALOG_PORT", raw)
    with pytest.raises(ValueError, match=f"MESH_CATALOG_PORT='{raw}'"):
        settings.catalog_port()


def test_the_dagster_url_is_unknown_until_set(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MESH_DAGSTER_URL", raising=False)
    assert settings.dagster_url() is None
    monkeypatch.setenv("MESH_DAGSTER_URL", " ")
    assert settings.dagster_url() is None
    monkeypatch.setenv("MESH_DAGSTER_URL", "http://127.0.0.1:3000/")
    assert settings.dagster_url() == "http://127.0.0.1:3000"
