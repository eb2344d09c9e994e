"""Durations in settings and YAML definitions: a number of seconds, or text such as 500ms, 30s, 5m, 1h30m, 7d."""

from __future__ import annotations

import math
import re

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
