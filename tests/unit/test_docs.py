"""The documentation keeps up with the code: every setting is documented, new pages are linked."""

from __future__ import annotations

import re

from tests.conftest import REPO


def test_every_setting_in_settings_py_is_documented_in_operations():
    settings = (REPO / "platform/meshwork/core/settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r"\"(MESH_[A-Z_]+)\"", settings))
    operations = (REPO / "docs/operations.md").read_text(encoding="utf-8")
    assert names and {n for n in names if f"`{n}`" not in operations} == set()


def test_the_tutorial_and_operations_are_linked_from_the_index_and_the_readme():
    for page in ("docs/index.md", "README.md"):
        text = (REPO / page).read_text(encoding="utf-8")
        assert "tutorial.md" in text and "operations.md" in text, page
