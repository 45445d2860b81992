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


def test_every_module_the_docs_and_deploy_files_name_exists():
    """Docs, the README and deploy/ name modules by import path; a move must take them along."""
    pages = [*REPO.glob("docs/*.md"), REPO / "README.md", REPO / "tests/README.md", *REPO.glob("deploy/**/*")]
    named = {
        (page.name, m)
        for page in pages
        if page.is_file() and page.suffix in {".md", ".yaml", ".yml", ""}
        for m in re.findall(r"\bmeshwork(?:\.[a-z_]+)+", page.read_text(encoding="utf-8"))
    }
    package = REPO / "platform"
    subpackages = {p.parent.name for p in (package / "meshwork").glob("*/__init__.py")}
    # Hostnames and file names (meshwork.svc…, meshwork.yaml) share the prefix: only package paths count.
    named = {(page, m) for page, m in named if m.split(".")[1] in subpackages}
    missing = sorted(
        (page, m)
        for page, m in named
        if not (package / m.replace(".", "/")).with_suffix(".py").is_file()
        and not (package / m.replace(".", "/") / "__init__.py").is_file()
        and not (package / m.rsplit(".", 1)[0].replace(".", "/")).with_suffix(".py").is_file()  # module.attribute
    )
    assert named and missing == []
