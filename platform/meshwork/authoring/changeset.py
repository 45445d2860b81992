"""A set of file creations and edits to the project, validated before any of it is written.

``mesh new`` and ``mesh onboard`` must never leave a half-made domain behind. They stage every file
here; :meth:`Changeset.validate` writes the whole change into a scratch copy of the project and
loads it there (descriptors, contracts, dbt parse), and only then :meth:`Changeset.apply` moves the
files into place, each atomically, undoing everything already done if one step fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from meshwork.core.errors import MeshError

PROJECT_PARTS = ("domains", "dbt_project", "workspace.yaml")
_IGNORED = shutil.ignore_patterns("target", "logs", "dbt_packages", "__pycache__", "*.pyc", ".mesh-new-*")


class ScaffoldError(MeshError):
    """A request that cannot be carried out; nothing was written."""


@dataclass
class Changeset:
    project: Path
    created: dict[Path, str] = field(default_factory=dict)  # relative path -> content
    updated: dict[Path, tuple[str, str]] = field(default_factory=dict)  # relative path -> (before, after)

    def create(self, rel: str | Path, text: str) -> None:
        rel = Path(rel)
        if (self.project / rel).exists() or rel in self.created:
            raise ScaffoldError(f"{rel} already exists")
        self.created[rel] = text

    def read(self, rel: str | Path) -> str | None:
        """The file as this change leaves it (None when it does not exist)."""
        rel = Path(rel)
        if rel in self.created:
            return self.created[rel]
        if rel in self.updated:
            return self.updated[rel][1]
        path = self.project / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def write(self, rel: str | Path, text: str) -> None:
        """Create the file, or replace the content of an existing one."""
        rel = Path(rel)
        if rel in self.created:
            self.created[rel] = text
        elif rel in self.updated:
            self.updated[rel] = (self.updated[rel][0], text)
        elif (self.project / rel).is_file():
            self.updated[rel] = ((self.project / rel).read_text(encoding="utf-8"), text)
        else:
            self.create(rel, text)

    @property
    def paths(self) -> list[Path]:
        return sorted([*self.created, *self.updated])

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A throw-away copy of the project with this change applied, to validate it in."""
        with tempfile.TemporaryDirectory(prefix="mesh-new-") as tmp:
            root = Path(tmp) / "project"
            root.mkdir()
            for part in PROJECT_PARTS:
                src = self.project / part
                if src.is_dir():
                    shutil.copytree(src, root / part, ignore=_IGNORED)
                elif src.is_file():
                    shutil.copy2(src, root / part)
            for rel in self.paths:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(self.read(rel) or "", encoding="utf-8")
            yield root

    def validate(self, check: Callable[[Path], list[str]]) -> None:
        """Run ``check`` on a scratch copy with the change applied; refuse on any problem it reports."""
        with self.scratch() as root:
            problems = [p.replace(str(root), str(self.project)) for p in check(root)]
        if problems:
            raise ScaffoldError(
                "the change would break the mesh, so nothing was written:\n" + "\n".join(f"  - {p}" for p in problems)
            )

    def apply(self, fail_after: int | None = None) -> None:
        """Write every file atomically; on any error undo what was written and re-raise.

        ``fail_after`` stops after that many files with an error: tests use it to prove the rollback.
        """
        self._written: list[Path] = []
        self._made_dirs: list[Path] = []
        try:
            for rel in self.paths:
                if fail_after is not None and len(self._written) >= fail_after:
                    raise OSError(f"injected failure before writing {rel}")
                target = self.project / rel
                self._made_dirs += _make_parents(target.parent)
                tmp = target.with_name(f".{target.name}.mesh-new")
                tmp.write_text(self.read(rel) or "", encoding="utf-8")
                if rel in self.created:
                    try:
                        os.link(tmp, target)  # fails if the file appeared meanwhile: never overwrite
                    finally:
                        tmp.unlink()
                else:
                    if target.read_text(encoding="utf-8") != self.updated[rel][0]:
                        tmp.unlink()
                        raise ScaffoldError(f"{rel} changed while the change was being prepared; run it again")
                    os.replace(tmp, target)
                self._written.append(rel)
        except BaseException:
            self.revert()
            raise

    def revert(self) -> None:
        """Undo :meth:`apply`: remove created files and folders, restore edited files."""
        for rel in reversed(getattr(self, "_written", [])):
            if rel in self.created:
                (self.project / rel).unlink(missing_ok=True)
            else:
                _atomic_write(self.project / rel, self.updated[rel][0])
        for d in reversed(getattr(self, "_made_dirs", [])):
            with contextlib.suppress(OSError):
                d.rmdir()
        self._written, self._made_dirs = [], []


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    missing.reverse()
    for d in missing:
        d.mkdir()
    return missing


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.mesh-new")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
