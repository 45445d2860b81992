"""The official ODPS v1.0.0 JSON schema, read at test time from the fetched mirror, never committed.

The one place that says where the schema is and which release it is: the repository
bitol-io/open-data-product-standard, tag ``v1.0.0`` (commit ``a3000874813e``), file
``schema/odps-json-schema-v1.0.0.json``, whose sha256 is pinned below (the same path at the
repository's HEAD has different bytes, so the tag matters). Workplace rule: fetched content is
never committed, and no registry package ships this schema, so tests read it from the local mirror
(a bare git directory). Without the mirror a test skips with a reason naming the path it looked
for; under CI (CI=true) it fails instead, so CI never passes by skipping.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

MIRROR = Path("/work/.mirror/bitol-io+open-data-product-standard/repo")
TAG = "v1.0.0"
COMMIT = "a3000874813eafd23a799083419f18fd074848a3"
SCHEMA_PATH = "schema/odps-json-schema-v1.0.0.json"
SHA256 = "2730fbde0d9ba6d73d47798ada98b3a6dded9c6a14d3d44fa3c69c2c2575ff73"
EXAMPLES = ("docs/examples/customer-data-product.odps.yaml", "docs/examples/simple-data-product.odps.yaml")


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the official ODPS schema check must run)")
    pytest.skip(reason)


@functools.cache
def _schema_bytes() -> bytes | str:
    """The schema's bytes at the tag, or why they cannot be had."""
    if not MIRROR.is_dir():
        return f"the ODPS mirror is not at {MIRROR} (fetch bitol-io/open-data-product-standard to run this test)"
    git = ["git", "--git-dir", str(MIRROR)]
    tag = subprocess.run([*git, "rev-parse", f"{TAG}^{{commit}}"], capture_output=True, text=True, check=False)
    if tag.returncode or tag.stdout.strip() != COMMIT:
        return f"tag {TAG} of the ODPS mirror at {MIRROR} is not commit {COMMIT}: {tag.stdout or tag.stderr}"
    shown = subprocess.run([*git, "show", f"{TAG}:{SCHEMA_PATH}"], capture_output=True, check=False)
    if shown.returncode:
        return f"{SCHEMA_PATH} is not in {MIRROR} at {TAG}: {shown.stderr.decode(errors='replace')}"
    return shown.stdout


def schema() -> dict[str, Any]:
    """The official schema (skips, or fails under CI, without the mirror; fails on other bytes)."""
    found = _schema_bytes()
    if isinstance(found, str):
        _missing(found)
        raise AssertionError("unreachable")
    digest = hashlib.sha256(found).hexdigest()
    assert digest == SHA256, f"{SCHEMA_PATH} at {TAG} in {MIRROR} has sha256 {digest}, not the pinned {SHA256}"
    return json.loads(found)


def as_json(path: Path) -> Any:
    """A descriptor as the JSON document a YAML-to-JSON converter makes of it (dates become strings)."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def errors(path: Path) -> list[str]:
    """Every error of the descriptor at ``path`` against the official ODPS v1.0.0 schema."""
    validator = jsonschema.validators.validator_for(schema())(schema())
    found = sorted(validator.iter_errors(as_json(path)), key=lambda e: list(e.absolute_path))
    return [f"{path}: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in found]


def example(path: str) -> Any:
    """One of the standard's own example documents at the tag (``EXAMPLES``), as YAML reads it."""
    schema()  # the same mirror, tag and skip (or CI failure) as the schema
    shown = subprocess.run(["git", "--git-dir", str(MIRROR), "show", f"{TAG}:{path}"], capture_output=True, check=True)
    return yaml.safe_load(shown.stdout)
