"""Go time.ParseDuration, for token lifespans (contract §4.17)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

_UNITS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART: Final = re.compile(r"(\d*\.?\d*)([^\d.]*)")


class DurationError(ValueError):
    """Carries Go's `time: ...` message."""


def parse_go_duration(text: str) -> timedelta:
    """Parse `[-+]?(number unit)+` or `0`, raising with Go's error wording."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    rest = text
    sign = 1.0
    if rest[:1] in ("-", "+"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return timedelta(0)
    if rest == "":
        raise DurationError(f"time: invalid duration {quoted}")
    total = 0.0
    while rest:
        match = _PART.match(rest)
        assert match is not None
        number, unit = match.group(1), match.group(2)
        if number in ("", "."):
            raise DurationError(f"time: invalid duration {quoted}")
        if unit == "":
            raise DurationError(f"time: missing unit in duration {quoted}")
        # The unit runs until the next digit or dot; anything unknown is reported whole.
        if unit not in _UNITS:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(number) * _UNITS[unit]
        rest = rest[match.end() :]
    return timedelta(seconds=sign * total)
