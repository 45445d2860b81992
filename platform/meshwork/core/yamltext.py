"""Add entries to hand-written YAML files as text, so their comments and layout survive.

Round-tripping through a YAML library would drop the comments people write in ``workspace.yaml``
and the dbt project files. Instead the new lines are inserted at the end of the right block, and
the caller parses the result to prove it means exactly the old document plus the new entry.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block(lines: list[str], path: Sequence[str]) -> tuple[int, int, int] | None:
    """(first line, end line, indent of the key) of the block holding the value of ``path``."""
    lo, hi, key_indent, key_line = 0, len(lines), -1, -1
    for key in path:
        first = next((line for line in lines[lo:hi] if _is_content(line)), "")
        # Keys of this level, or of the first item when the level is a list ("- name: x" then "  key:").
        levels = {_indent(first), _indent(first) + 2} if first.lstrip().startswith("- ") else {_indent(first)}
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*:\s*(#.*)?$")  # a key whose value is a nested block
        found = next((i for i in range(lo, hi) if _indent(lines[i]) in levels and pattern.match(lines[i])), None)
        if found is None:
            return None
        key_line, key_indent = found, _indent(lines[found])
        end = found + 1
        while end < hi:
            line = lines[end]
            if _is_content(line) and (
                _indent(line) < key_indent or (_indent(line) == key_indent and not line.lstrip().startswith("-"))
            ):
                break
            end += 1
        lo, hi = found + 1, end
    return key_line + 1, hi, key_indent


def _trim_end(lines: list[str], start: int, end: int, indent: int) -> int:
    """Step back over blank lines and comments that introduce what follows the block."""
    while end > start and (
        not lines[end - 1].strip() or (lines[end - 1].lstrip().startswith("#") and _indent(lines[end - 1]) <= indent)
    ):
        end -= 1
    return end


def insert(
    text: str,
    path: Sequence[str],
    snippet: str,
    after_item: Callable[[str], bool] | None = None,
) -> str | None:
    """``text`` with ``snippet`` added as the last entry of the block at ``path``.

    ``snippet`` is written relative to the block's entries (dedented); it gets their indentation.
    With ``after_item``, the snippet goes right after the last list item whose text matches it
    (so related entries stay together). Returns None when the block is not found or is written in
    flow style (``{}``/``[]``): the caller then asks the user to add the entry by hand.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    found = _block(lines, path)
    if found is None:
        return None
    start, end, key_indent = found
    child = next((_indent(line) for line in lines[start:end] if _is_content(line)), key_indent + 2)
    position = _trim_end(lines, start, end, key_indent)
    if after_item is not None:
        items = [i for i in range(start, end) if _indent(lines[i]) == child and lines[i].lstrip().startswith("-")]
        bounds = list(zip(items, [*items[1:], end], strict=True))
        matching = [(a, b) for a, b in bounds if after_item("".join(lines[a:b]))]
        if matching:
            a, b = matching[-1]
            position = _trim_end(lines, a, b, child)
    new = [" " * child + line if line.strip() else "\n" for line in textwrap.dedent(snippet).splitlines(keepends=True)]
    return "".join(lines[:position] + new + lines[position:])
