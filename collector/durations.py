"""Durations as people type them on the command line: ``24h``, ``90m``, ``7d``, ``1d12h``.

Pure. Every part needs a unit (s, m, h or d) and the total must be above zero: ``24`` could
mean hours or seconds, and ``0h`` would make a token that is dead on arrival.
"""

from __future__ import annotations

import re
from datetime import timedelta

from collector.errors import UsageError

_PART = re.compile(r"(\d+)([a-z]*)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
EXAMPLES = "like 24h, 90m, 7d or 1d12h (units s, m, h, d)"


class InvalidDuration(UsageError, ValueError):
    """Text that is not a positive duration with units."""


def parse_duration(text: str) -> timedelta:
    """'24h', '90m', '7d', '1d12h' -> timedelta; InvalidDuration for anything else, or for zero."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise InvalidDuration(f"{text!r} is not a duration {EXAMPLES}")
    seconds = 0
    for number, unit in parts:
        if not unit:
            raise InvalidDuration(f"{text!r} has no unit: write e.g. {number}h or {number}d")
        if unit not in _UNITS:
            raise InvalidDuration(f"{text!r}: unknown unit {unit!r}; use s, m, h or d")
        seconds += int(number) * _UNITS[unit]
    if seconds <= 0:
        raise InvalidDuration(f"{text!r} is no time at all: a duration must be above zero")
    return timedelta(seconds=seconds)
