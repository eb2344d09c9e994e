"""A small JSON Schema checker for the schemas pydantic writes (the task catalog's argument schemas).

A producer that does not import a task's code checks its arguments against the schema the
task's workers published, before anything is sent. It covers what pydantic emits for argument
types — ``type``, ``properties``/``required``/``additionalProperties``, ``items``/``prefixItems``,
``enum``/``const``, ``anyOf``/``oneOf``/``allOf``, local ``$ref`` to ``$defs``, string, number and
array bounds, ``pattern`` and the ``date``/``date-time``/``uuid`` formats — and nothing else:
an unknown keyword passes (the worker validates again with the real types).

>>> check({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}, {"n": "x"})
["n: 'x' is not of type integer"]
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

Schema = Mapping[str, Any]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def check(schema: Schema, value: Any, *, limit: int = 5) -> list[str]:
    """Every problem of ``value`` against ``schema`` (at most ``limit``), each ``path: what``; [] if valid."""
    problems: list[str] = []
    _Checker(schema, problems).run(schema, value, "")
    return problems[:limit]


def _is_format(fmt: str, value: str) -> bool:
    parse: dict[str, Callable[[str], object]] = {
        "date-time": lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")),
        "date": date.fromisoformat,
        "uuid": uuid.UUID,
    }
    if fmt not in parse:
        return True
    try:
        parse[fmt](value)
    except ValueError:
        return False
    return True


class _Checker:
    def __init__(self, root: Schema, problems: list[str]) -> None:
        self._root = root
        self._problems = problems

    def _fail(self, path: str, message: str) -> None:
        self._problems.append(f"{path or 'value'}: {message}")

    def _resolve(self, ref: str) -> Schema:
        if not ref.startswith("#/"):
            return {}  # a remote reference: not followed (the worker validates)
        node: Any = self._root
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, Mapping) else {}
        return node if isinstance(node, Mapping) else {}

    def valid(self, schema: Schema, value: Any) -> bool:
        problems: list[str] = []
        _Checker(self._root, problems).run(schema, value, "")
        return not problems

    def run(self, schema: Schema | bool, value: Any, path: str) -> None:
        if schema is True or schema == {}:
            return
        if schema is False:
            self._fail(path, "is not allowed")
            return
        assert isinstance(schema, Mapping)
        if "$ref" in schema:
            self.run(self._resolve(schema["$ref"]), value, path)
        if not self._type_and_values(schema, value, path):
            return
        self._combinators(schema, value, path)
        if isinstance(value, dict):
            self._object(schema, value, path)
        elif isinstance(value, list):
            self._array(schema, value, path)
        elif isinstance(value, str):
            self._string(schema, value, path)
        elif _TYPES["number"](value):
            self._number(schema, value, path)

    def _type_and_values(self, schema: Schema, value: Any, path: str) -> bool:
        kinds = schema.get("type")
        if kinds is not None:
            names = [kinds] if isinstance(kinds, str) else list(kinds)
            if not any(_TYPES.get(name, lambda _: True)(value) for name in names):
                self._fail(path, f"{value!r} is not of type {' or '.join(names)}")
                return False
        if "enum" in schema and value not in schema["enum"]:
            self._fail(path, f"{value!r} is not one of {schema['enum']!r}")
            return False
        if "const" in schema and value != schema["const"]:
            self._fail(path, f"{value!r} is not {schema['const']!r}")
            return False
        return True

    def _combinators(self, schema: Schema, value: Any, path: str) -> None:
        for sub in schema.get("allOf", ()):
            self.run(sub, value, path)
        if "anyOf" in schema and not any(self.valid(sub, value) for sub in schema["anyOf"]):
            self._fail(path, f"{value!r} matches none of the allowed types")
        if "oneOf" in schema and sum(self.valid(sub, value) for sub in schema["oneOf"]) != 1:
            self._fail(path, f"{value!r} does not match exactly one of the allowed types")

    def _object(self, schema: Schema, value: dict[str, Any], path: str) -> None:
        properties: Mapping[str, Any] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                self._fail(_join(path, name), "is required")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            where = _join(path, key)
            if key in properties:
                self.run(properties[key], item, where)
            elif extra is False:
                self._fail(where, "is not an accepted field")
            elif isinstance(extra, Mapping):
                self.run(extra, item, where)

    def _array(self, schema: Schema, value: list[Any], path: str) -> None:
        prefix = list(schema.get("prefixItems", ()))
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else schema.get("items", True)
            self.run(sub, item, f"{path}[{index}]")
        if len(value) < schema.get("minItems", 0):
            self._fail(path, f"has {len(value)} items, fewer than {schema['minItems']}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self._fail(path, f"has {len(value)} items, more than {schema['maxItems']}")

    def _string(self, schema: Schema, value: str, path: str) -> None:
        if len(value) < schema.get("minLength", 0):
            self._fail(path, f"is shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self._fail(path, f"is longer than {schema['maxLength']} characters")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            self._fail(path, f"{value!r} does not match {schema['pattern']!r}")
        if "format" in schema and not _is_format(schema["format"], value):
            self._fail(path, f"{value!r} is not a valid {schema['format']}")

    def _number(self, schema: Schema, value: float, path: str) -> None:
        bounds: tuple[tuple[str, Callable[[float, float], bool], str], ...] = (
            ("minimum", lambda v, b: v >= b, ">="),
            ("maximum", lambda v, b: v <= b, "<="),
            ("exclusiveMinimum", lambda v, b: v > b, ">"),
            ("exclusiveMaximum", lambda v, b: v < b, "<"),
        )
        for keyword, holds, sign in bounds:
            if keyword in schema and not holds(value, schema[keyword]):
                self._fail(path, f"{value!r} is not {sign} {schema[keyword]}")
        step = schema.get("multipleOf")
        if step and not math.isclose(value / step, round(value / step)):
            self._fail(path, f"{value!r} is not a multiple of {step}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
