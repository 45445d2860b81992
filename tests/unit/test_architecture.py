"""The platform package keeps the shape docs/concepts.md ("Architecture") describes.

The layer and cycle rules themselves are import-linter contracts (pyproject.toml); these tests run
them as part of the suite and add what import-linter cannot say: module size, deferred imports that
explain themselves, and package docstrings that say what may be imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "platform" / "meshwork"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_import_layers_hold_and_there_is_no_import_cycle():
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout and proc.stdout.count("KEPT") == 3


@pytest.mark.parametrize("module", MODULES, ids=_relative)
def test_no_module_is_longer_than_400_lines(module: Path):
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_relative(module)} has {lines} lines: split it along a concept"


def _deferred_imports(tree: ast.Module):
    """Imports inside functions, with the line they are on."""
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    yield node


@pytest.mark.parametrize("module", MODULES, ids=_relative)
def test_every_import_inside_a_function_says_why_it_is_deferred(module: Path):
    """A function-local import is only for deferring a slow import on purpose, never to hide a cycle."""
    text = module.read_text(encoding="utf-8")
    lines = text.splitlines()
    unexplained = []
    for node in _deferred_imports(ast.parse(text)):
        here = lines[node.lineno - 1]
        above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
        if "#" not in here and not above.startswith("#"):
            unexplained.append(f"{_relative(module)}:{node.lineno}: {here.strip()}")
    assert unexplained == [], "deferred imports without a comment saying why:\n" + "\n".join(unexplained)


@pytest.mark.parametrize("package", sorted(p.parent for p in PACKAGE.glob("*/__init__.py")), ids=lambda p: p.name)
def test_every_package_says_what_lives_there_and_what_it_may_import(package: Path):
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert len(doc) > 120, f"{package.name}/__init__.py needs a paragraph on what lives there"
    assert "Imports:" in doc, f"{package.name}/__init__.py must say what the package may import"
