"""Durations as people write them (`90s`, `10m`, `1h30m`, `7d`, `2w`).

Shared by rule files, the config and chat commands (`/mute 1h`) so all three accept the same
spelling and reject the same mistakes with the same words.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"(?:\d+\s*[smhdw]\s*)+")
MAX_SECONDS = 36500 * 86400


class DurationError(ValueError):
    """A duration that cannot be read, or that is zero or negative."""


def parse_duration(text: str) -> timedelta:
    """Read `1h30m` style durations; a bare number is refused because its unit would be a guess."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise DurationError("empty duration; write it like 30s, 10m, 2h, 7d or 2w")
    if cleaned.startswith("-"):
        raise DurationError(f"duration {text!r} is negative; durations must be positive")
    if cleaned.isdigit():
        raise DurationError(
            f"duration {text!r} has no unit; write {cleaned}s, {cleaned}m, {cleaned}h or {cleaned}d"
        )
    if not _WHOLE.fullmatch(cleaned):
        raise DurationError(
            f"cannot read duration {text!r}; write it like 30s, 10m, 2h, 7d, 2w or 1h30m"
        )
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
    if seconds <= 0:
        raise DurationError(f"duration {text!r} is zero; durations must be positive")
    if seconds > MAX_SECONDS:
        raise DurationError(f"duration {text!r} is too long; the longest is 100 years (36500d)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """An exact spelling that `parse_duration` reads back; days are the largest unit."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
