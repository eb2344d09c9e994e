"""Durations on the command line: 30s, 5m, 1h30m, 2d."""

from __future__ import annotations

import re
from datetime import timedelta

from ..errors import ConfigError

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(text: str) -> timedelta:
    """'90' or '90s', '5m', '1h30m', '2d' -> timedelta.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return timedelta(seconds=float(value))
    match = _DURATION.fullmatch(value)
    if not value or match is None or not any(match.groups()):
        raise ConfigError(f"invalid duration {text!r}: use e.g. 30s, 5m, 1h30m or 2d")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
