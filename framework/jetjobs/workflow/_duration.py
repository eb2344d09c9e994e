"""Durations in YAML definitions: the parser lives with the values (``jetjobs._duration``)."""

from __future__ import annotations

from .._duration import parse_duration

__all__ = ["parse_duration"]
