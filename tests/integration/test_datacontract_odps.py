"""What datacontract-cli 1.2.8 does with Meshwork's ODPS descriptors: it recognises them and refuses them.

datacontract-cli reads ODCS contracts only. A YAML document with ``kind: DataProduct`` and an
``apiVersion`` starting with ``v1`` is recognised as ODPS and refused with "Cannot parse ODPS product"
(``datacontract/lint/resolve.py``: "Cannot import ODPS, as not supported"); ``datacontract catalog``
skips such files with that reason. So it gives no verdict on whether a descriptor is valid ODPS:
the official ODPS JSON schema does (tests/unit/model/test_odps_descriptors.py).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.test_datacontract_cli import datacontract, run  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
REFUSAL = "Cannot parse ODPS product"


def said(result) -> str:
    return re.sub(r"\s+", " ", result.stdout + result.stderr)  # its console wraps long lines


def test_datacontract_cli_recognises_every_descriptor_as_odps_and_refuses_it(datacontract: Path, tmp_path: Path):  # noqa: F811
    descriptors = sorted((REPO / "domains").glob("*/products/*.yaml"))
    assert len(descriptors) == 7
    for path in descriptors:
        linted = run(datacontract, "lint", str(path), cwd=tmp_path)
        assert linted.returncode == 1 and REFUSAL in said(linted), (path.name, said(linted)[-1000:])
    # It judges nothing of the document: one that is not valid ODPS gets the very same answer…
    invalid = tmp_path / "invalid.yaml"
    data = yaml.safe_load(descriptors[0].read_text())
    invalid.write_text(yaml.safe_dump({**data, "productKind": "aggregate", "outputPorts": [{"contract": "x"}]}))
    linted = run(datacontract, "lint", str(invalid), cwd=tmp_path)
    assert linted.returncode == 1 and REFUSAL in said(linted)
    # …and the refusal is about the kind: the same text as another kind is not taken for ODPS.
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**data, "kind": "DataContract"}))
    assert REFUSAL not in said(run(datacontract, "lint", str(other), cwd=tmp_path))


def test_datacontract_catalog_skips_the_descriptors_and_catalogs_the_contracts(datacontract: Path, tmp_path: Path):  # noqa: F811
    shutil.copytree(REPO / "domains", tmp_path / "domains", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    made = run(datacontract, "catalog", "--files", "domains/*/[pc]*/*.yaml", "--output", "out", cwd=tmp_path)
    assert made.returncode == 0, said(made)[-2000:]
    for path in sorted((tmp_path / "domains").glob("*/products/*.yaml")):
        assert f"Skipped domains/{path.parent.parent.name}/products/{path.name} due to error: {REFUSAL}" in said(made)
    pages = sorted(p.name for p in (tmp_path / "out").rglob("*.html") if p.name != "index.html")
    assert pages == sorted(
        f"{p.name.removesuffix('.yaml')}.html" for p in (REPO / "domains").glob("*/contracts/*.yaml")
    )
