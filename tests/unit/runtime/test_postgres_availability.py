"""Postgres tests skip on a developer's machine without PostgreSQL, but fail in CI: an install that
broke must not pass as a green build."""

from __future__ import annotations

import pytest

from tests import postgres


def test_without_postgres_a_test_skips_locally(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not available: no initdb"):
        postgres.unavailable("no initdb")


def test_without_postgres_a_test_fails_in_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"PostgreSQL is required in CI \(CI=true\): no initdb"):
        postgres.unavailable("no initdb")
