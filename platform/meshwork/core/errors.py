"""Errors that point at the file, field and product at fault, so a user can fix them without a debugger."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the mesh's definition."""

    reason: str
    file: Path | str | None = None
    field: str | None = None
    product: str | None = None

    def __str__(self) -> str:
        where = [str(self.file)] if self.file else []
        if self.field:
            where.append(f"field '{self.field}'")
        if self.product:
            where.append(f"product '{self.product}'")
        return f"{': '.join(where)}: {self.reason}" if where else self.reason


class MeshError(Exception):
    """Base class for every error Meshwork raises on purpose."""


class MeshDefinitionError(MeshError):
    """The mesh's descriptors, contracts or workspace are invalid; nothing may build."""

    def __init__(self, problems: list[Problem], subject: str = "the mesh definition"):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{subject} has {len(problems)} problem(s):\n{lines}")


class PortAccessError(MeshError):
    """A consumer asked for a port it may not read (undeclared, unknown, or not granted)."""


class PublishError(MeshError):
    """A product could not be published; its previous snapshot stays the latest."""


class ContractViolation(PublishError):
    """The produced data breaks its output port's contract; nothing was published."""

    def __init__(self, message: str, outcome: object = None):
        super().__init__(message)
        self.outcome = outcome
