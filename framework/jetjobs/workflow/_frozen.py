"""Immutable, hashable JSON values, so definitions can be frozen dataclasses.

A JSON object becomes a :class:`FrozenMap` (keys sorted, so two maps with the same items
are equal and hash alike whatever order they were written in), an array becomes a tuple.
:func:`thaw` turns them back into plain dicts and lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

V = TypeVar("V")


class FrozenMap(Mapping[str, V]):
    """A read-only mapping with sorted keys that is hashable when its values are.

    >>> FrozenMap({"b": 1, "a": 2}) == {"a": 2, "b": 1}
    True
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[str, V] | None = None) -> None:
        self._data: dict[str, V] = dict(sorted((items or {}).items()))
        self._hash: int | None = None

    def __getitem__(self, key: str) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def json_problem(value: Any) -> str | None:
    """Why ``value`` is not a JSON value (None when it is one); the text names the offending part."""
    return _problem(value, "")


def _problem(value: Any, at: str) -> str | None:
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{at or 'value'} is {value}, which JSON cannot hold"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"key {key!r} at {at or 'top level'} is not a string"
            found = _problem(item, f"{at}.{key}" if at else key)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _problem(item, f"{at}[{i}]")
            if found:
                return found
        return None
    return f"{at or 'value'} is a {type(value).__name__}, not a JSON value (str, number, bool, null, list, dict)"


def freeze(value: Any) -> Any:
    """A JSON value made immutable: dicts become FrozenMap, lists become tuples."""
    if isinstance(value, Mapping):
        return FrozenMap({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON value (dicts with sorted keys, lists) of a frozen one."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value
