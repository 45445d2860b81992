"""Browser tests do not pass silently: without Chromium they skip, but under CI=true they fail."""

from __future__ import annotations

import pytest

from tests.integration import chromium


def test_without_chromium_a_browser_test_fails_under_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(chromium, "executable", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="headless Chromium is required in CI"):
        chromium.require()


def test_without_chromium_a_browser_test_skips_outside_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(chromium, "executable", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        chromium.require()


def test_with_chromium_require_names_the_browser(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(chromium, "executable", lambda: "/usr/bin/chromium")
    monkeypatch.setenv("CI", "true")
    assert chromium.require() == "/usr/bin/chromium"
