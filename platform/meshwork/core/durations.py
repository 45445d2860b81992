"""Durations in the notation descriptors use for SLAs (``90s``, ``2m``, ``26h``, ``7d``), read and written.

Messages put an age next to the SLA it breaches ("3m 20s old, over its 2m freshness SLA"), so both are
written the same way, to the unit that matters: two units at most, never "0.0h".
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_TEXT = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*\Z")


def humanize(value: timedelta | float) -> str:
    """``timedelta(seconds=200)`` -> ``3m 20s``; ``timedelta(hours=26, minutes=5)`` -> ``1d 2h``. Negative
    durations (a clock behind) are written with a minus sign rather than hidden."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign, seconds = ("-" if seconds < 0 else ""), abs(int(seconds))
    for i, (unit, size) in enumerate(_UNITS):
        if seconds >= size or unit == "s":
            whole, rest = divmod(seconds, size)
            if unit == "s":
                return f"{sign}{whole}s"
            smaller, small_size = _UNITS[i + 1]
            tail = rest // small_size
            return f"{sign}{whole}{unit}" + (f" {tail}{smaller}" if tail else "")
    raise AssertionError("unreachable: 's' always matches")


def parse(text: str, what: str) -> timedelta:
    """``30m`` -> 30 minutes. ``what`` names the setting or field in the error."""
    m = _TEXT.match(text)
    if not m:
        raise ValueError(f"{what}={text!r}: write a duration such as 90s, 30m, 4h or 2d")
    return timedelta(seconds=int(m.group(1)) * dict(_UNITS)[m.group(2)])
