"""Reading YAML that someone else wrote, within limits, so a small hostile file cannot take a process down.

A safe loader already refuses arbitrary Python objects, but not a document that is small on disk and
huge once its aliases are expanded ("billion laughs": 2 KB of nested aliases made ``mesh check`` grow
to 5.9 GB), nor one nested so deep that libyaml's recursive composer overflows the C stack. Every
descriptor, contract, domain.yaml and workspace.yaml goes through :func:`loads`, which checks the
size first, then streams the document's parse events (libyaml's parser keeps its own stack, so it
does not recurse) and stops at the first limit crossed, before any node is built.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from meshwork.core import parsed_cache

MAX_BYTES = 4 * 1024 * 1024
MAX_ALIASES = 100
MAX_DEPTH = 64
# Values in the document with every alias expanded: what a consumer walking the data would visit.
MAX_VALUES = 1_000_000

# libyaml's parser when PyYAML was built with it (the wheels are): several times faster than the
# pure-Python one, which dominated loading a mesh of hundreds of products.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(yaml.YAMLError):
    """The document crosses one of the limits; the message names it."""


class UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """A safe loader that refuses a key written twice (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<' merges a mapping: not a key of its own
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _limit(event: yaml.Event, reason: str) -> YamlLimitError:
    mark = event.start_mark
    return YamlLimitError(f"{reason}, at line {mark.line + 1}" if mark else reason)


def check_limits(text: str) -> None:
    """Raise :class:`YamlLimitError` at the first limit ``text`` crosses; a syntax error is left to the load."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlLimitError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB (a limit on YAML documents)")
    # Per open collection: [anchor, values below it, collection levels below it].
    open_: list[list[Any]] = []
    anchored: dict[str, tuple[int, int]] = {}  # anchor -> (values, levels) of its node
    aliases = values = 0
    parser = _SafeLoader(text)
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                values += 1
                open_.append([event.anchor, 1, 0])
                if len(open_) > MAX_DEPTH:
                    raise _limit(event, f"nested more than {MAX_DEPTH} levels deep (a limit against stack exhaustion)")
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, size, levels = open_.pop()
                levels += 1
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size, levels = event.anchor, 1, 0
                values += 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise _limit(event, f"more than {MAX_ALIASES} YAML aliases (a limit against alias bombs)")
                if any(frame[0] == event.anchor for frame in open_):
                    raise _limit(event, f"the alias *{event.anchor} repeats a node that contains it (recursive YAML)")
                anchor, (size, levels) = None, anchored.get(event.anchor or "", (1, 0))  # undefined: the load says so
                values += size
            else:  # stream and document boundaries
                continue
            if values > MAX_VALUES:
                expanded = f"more than {MAX_VALUES:,} values once its aliases are expanded"
                raise _limit(event, f"{expanded} (a limit against alias bombs)")
            if len(open_) + levels > MAX_DEPTH:
                raise _limit(event, f"nested more than {MAX_DEPTH} levels deep (a limit against stack exhaustion)")
            if anchor is not None:
                anchored[anchor] = (size, levels)
            if open_:
                open_[-1][1] += size
                open_[-1][2] = max(open_[-1][2], levels)
    except YamlLimitError:
        raise
    except yaml.YAMLError:
        return  # not valid YAML: the load reports it, with its own position
    finally:
        parser.dispose()


def loads(text: str) -> Any:
    """``text`` parsed by the safe, duplicate-key-refusing loader, once it is known to be within the limits."""
    check_limits(text)
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader)


# Everything a parse depends on besides the bytes (PyYAML's version and parser, this module's loader
# and limits, so any edit of this file): a change of any of them must not reuse old entries.
_SOURCE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
_PARSER = f"yamlsafe/{yaml.__version__}/{_SafeLoader.__name__}/{_SOURCE}"


def _decode(content: bytes) -> Any:
    # As read_text does: UTF-8, universal newlines.
    return loads(content.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"))


def read(path: Path) -> Any:
    """The YAML document in ``path``; a file beyond the size limit is refused before it is read.

    A successful parse is remembered under the hash of the file's bytes (:mod:`meshwork.core.parsed_cache`).
    """
    if path.stat().st_size > MAX_BYTES:
        raise YamlLimitError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB (a limit on YAML documents)")
    return parsed_cache.parsed(path.read_bytes(), _PARSER, _decode)
