"""dbt packages of an onboarded project come from disk: local ones from their path, hub and git ones once
vendored; otherwise one message lists every package to vendor and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshwork.authoring.changeset import ScaffoldError
from meshwork.authoring.dbt_packages import resolve
from meshwork.storage.dbt_project import _project_key  # the key ensure_manifest compares before parsing

PACKAGES = """\
packages:
  - local: ../helpers
  - package: dbt-labs/dbt_utils
    version: 1.3.3
  - git: "https://github.com/dbt-labs/dbt-audit-helper.git"
    revision: main
"""


def package(folder: Path, name: str) -> Path:
    (folder / "macros").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(f"name: {name}\nversion: '1.0'\nconfig-version: 2\n")
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "packages.yml").write_text(PACKAGES)
    package(tmp_path / "helpers", "helpers")
    return root


def test_unfetchable_hub_and_git_packages_give_one_message_saying_what_to_vendor_and_where(project: Path):
    with pytest.raises(ScaffoldError) as refused:
        resolve(project, {}, None)
    message = str(refused.value)
    assert "dbt-labs/dbt_utils 1.3.3 (dbt Hub)" in message
    assert "https://github.com/dbt-labs/dbt-audit-helper.git@main (git)" in message
    assert f"to {project}/dbt_packages/" in message and "--packages DIR" in message
    assert "helpers" not in message  # the local package was found


def test_vendored_packages_under_the_project_or_a_given_folder_are_used(project: Path, tmp_path: Path):
    package(project / "dbt_packages/dbt_utils", "dbt_utils")
    with pytest.raises(ScaffoldError, match="audit-helper") as refused:
        resolve(project, {}, None)
    assert "dbt_utils" not in str(refused.value)
    package(tmp_path / "vendor/audit_helper", "audit_helper")
    found = {p.name: p.root for p in resolve(project, {}, tmp_path / "vendor")}
    assert found == {
        "helpers": (tmp_path / "helpers").resolve(),
        "dbt_utils": project / "dbt_packages/dbt_utils",
        "audit_helper": tmp_path / "vendor/audit_helper",
    }


def test_a_local_package_without_a_dbt_project_is_refused(tmp_path: Path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "packages.yml").write_text("packages:\n  - local: nowhere\n")
    with pytest.raises(ScaffoldError, match="local: nowhere in packages.yml: .*nowhere has no dbt_project.yml"):
        resolve(root, {}, None)


def test_a_changed_vendored_package_makes_the_mesh_parse_again(tmp_path: Path):
    macro = package(tmp_path / "dbt_project/vendor/dbt_utils", "dbt_utils") / "macros/m.sql"
    macro.write_text("{% macro m() %}1{% endmacro %}")
    before = _project_key(tmp_path / "dbt_project")
    macro.write_text("{% macro m() %}22{% endmacro %}")
    assert _project_key(tmp_path / "dbt_project") != before
