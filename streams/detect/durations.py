"""Durations written the Prometheus way: `90s`, `5m`, `1h30m`, `7d`, `1w` (or plain seconds)."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Seconds as a float; raise ValueError with a message a rule author can act on."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 1h or 7d, got a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value}")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a duration like 30s, 5m, 1h or 7d, got {value!r}")
    text = value.strip()
    pos, total = 0, 0.0
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match:
            raise ValueError(f"invalid duration {value!r}: use a number with a unit (ms, s, m, h, d, w), e.g. 5m or 1h30m")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total


def format_duration(seconds: float) -> str:
    """Short human form, the inverse of parse_duration for whole units: 3900 -> '1h5m'."""
    if 0 < seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining = int(round(seconds))
    out = []
    for unit in ("w", "d", "h", "m", "s"):
        size = int(_UNITS[unit])
        if remaining >= size:
            out.append(f"{remaining // size}{unit}")
            remaining %= size
    return "".join(out) or "0s"
