"""Durations in YAML definitions (a number of seconds, or text such as 500ms, 30s, 5m, 1h30m, 7d),
and durations of runs and steps as people read them (``12 ms``, ``3.40 s``, ``2 min 05 s``)."""

from __future__ import annotations

import contextlib

from .._duration import parse_duration
from .._wire import parse_iso

__all__ = ["format_seconds", "parse_duration", "seconds_between"]


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
