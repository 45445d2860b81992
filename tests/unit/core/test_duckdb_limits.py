"""dbt's DuckDB gets the same limits as the platform's own connections, set or not: a run launched from the
UI executes dbt with the code server's environment, where only the profile's defaults apply (the 10M-order
benchmark once ran its dbt models with 2GB while everything else had 384MB)."""

from __future__ import annotations

import re

import pytest

from meshwork.core import settings
from tests.conftest import REPO

PROFILE = (REPO / "dbt_project" / "profiles.yml").read_text(encoding="utf-8")


def profile_default(variable: str) -> str:
    found = re.search(rf"env_var\('{variable}', '([^']*)'\)", PROFILE)
    assert found, f"dbt_project/profiles.yml does not read {variable}"
    return found[1]


@pytest.mark.parametrize(
    ("variable", "platform_value"),
    [("MESH_DUCKDB_MEMORY_LIMIT", settings.duckdb_memory_limit), ("MESH_DUCKDB_THREADS", settings.duckdb_threads)],
)
def test_the_dbt_profile_defaults_to_the_platforms_limits(
    monkeypatch: pytest.MonkeyPatch, variable: str, platform_value
) -> None:
    monkeypatch.delenv(variable, raising=False)
    assert profile_default(variable) == str(platform_value())
