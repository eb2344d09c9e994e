"""Durations in YAML definitions (a number of seconds, or text such as 500ms, 30s, 5m, 1h30m, 7d),
and durations of runs and steps as people read them (``12 ms``, ``3.40 s``, ``2 min 05 s``)."""

from __future__ import annotations

import contextlib
import math
import re

from .._wire import parse_iso

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = r"(\d+(?:\.\d+)?)"
_DURATION = re.compile(rf"(?:{_PART}d)?(?:{_PART}h)?(?:{_PART}m(?!s))?(?:{_PART}s)?(?:{_PART}ms)?")


def parse_duration(value: object) -> float:
    """Seconds in ``value``; raises ValueError with the accepted forms.

    >>> parse_duration("1h30m"), parse_duration("500ms"), parse_duration(90)
    (5400.0, 0.5, 90.0)
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"invalid duration {value!r}: use a number of seconds or e.g. 500ms, 30s, 5m, 1h, 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        match = _DURATION.fullmatch(text)
        if re.fullmatch(_PART, text):
            seconds = float(text)
        elif not text or match is None or not any(match.groups()):
            raise ValueError(f"invalid duration {value!r}: use a number of seconds or e.g. 500ms, 30s, 5m, 1h, 7d")
        else:
            seconds = sum(float(g) * unit for g, unit in zip(match.groups(), _UNITS.values(), strict=True) if g)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be a finite number of seconds >= 0")
    return seconds


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds from one RFC 3339 time to another (a step's ``started_at`` to its ``finished_at``);
    None when either is missing or unreadable."""
    if not start or not end:
        return None
    with contextlib.suppress(ValueError):
        return round((parse_iso(end) - parse_iso(start)).total_seconds(), 6)
    return None


def format_seconds(seconds: float | None, missing: str = "-") -> str:
    """A duration for people, ``missing`` when unknown.

    >>> format_seconds(0.0123), format_seconds(3.4), format_seconds(125), format_seconds(None)
    ('12 ms', '3.40 s', '2 min 05 s', '-')
    """
    if seconds is None:
        return missing
    if seconds < 0.0005:
        return "<1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
