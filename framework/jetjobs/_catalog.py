"""The task catalog's entry: what a worker publishes about each task it runs.

A value with no NATS in it: workers write it (``catalog/``), producers read it to route a
task they do not import and to check its arguments before publishing (``check_arguments``).
The JSON form is the wire format documented in docs/wire-protocol.md (bucket ``JOBS_CATALOG``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._jsonschema import check
from .errors import InvalidPayload

ParameterKind = Literal["positional_only", "positional_or_keyword", "var_positional", "keyword_only", "var_keyword"]
CATALOG_FORMAT = 1


class Parameter(BaseModel):
    """One parameter of a task's function, in order: how a positional wire argument is named."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: ParameterKind


class CatalogEntry(BaseModel):
    """One task as its workers describe it.

    ``arguments`` is the JSON Schema of the arguments as one object (parameter name ->
    value; ``*args`` a list, ``**kwargs`` an object), ``result`` that of the return value.

    Example::

        entry = await app.catalog.entry("send_email")
        entry.queue, entry.arguments["required"]     # 'emails', ['to', 'subject']
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: int = CATALOG_FORMAT
    name: str
    queue: str
    priority: str = "normal"
    version: str | None = None
    description: str = ""
    service: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    parameters: tuple[Parameter, ...] = ()
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    published_at: str = ""

    def encode(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()

    @classmethod
    def decode(cls, data: bytes) -> CatalogEntry:
        return cls.model_validate_json(data)


def bind_arguments(entry: CatalogEntry, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Name wire arguments as the task's function would bind them (the shape ``arguments`` describes)."""
    params = entry.parameters
    positional = [p for p in params if p.kind in ("positional_only", "positional_or_keyword")]
    var_args = next((p for p in params if p.kind == "var_positional"), None)
    var_kwargs = next((p for p in params if p.kind == "var_keyword"), None)
    named: dict[str, Any] = {}
    for index, value in enumerate(args):
        if index < len(positional):
            named[positional[index].name] = value
        elif var_args is not None:
            named.setdefault(var_args.name, []).append(value)
        else:
            raise InvalidPayload(
                f"{entry.name}(): takes {len(positional)} positional arguments but {len(args)} were given"
            )
    by_name = {p.name: p for p in params}
    for key, value in kwargs.items():
        param = by_name.get(key)
        if key in named and param is not None:
            raise InvalidPayload(f"{entry.name}(): got multiple values for argument {key!r}")
        if param is not None and param.kind in ("positional_or_keyword", "keyword_only"):
            named[key] = value
        elif var_kwargs is not None:
            named.setdefault(var_kwargs.name, {})[key] = value
        else:
            named[key] = value  # the schema's additionalProperties=false names it
    return named


def check_arguments(entry: CatalogEntry, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """Raise InvalidPayload unless the wire arguments fit the schema the task's workers published.

    >>> entry = CatalogEntry(name="add", queue="math", parameters=(Parameter(name="a", kind="keyword_only"),),
    ...                      arguments={"type": "object", "properties": {"a": {"type": "integer"}}})
    >>> check_arguments(entry, [], {"a": 1})
    """
    if not entry.arguments:
        return
    problems = check(entry.arguments, bind_arguments(entry, args, kwargs))
    if problems:
        where = f" (catalog of {entry.service}" + (f", version {entry.version})" if entry.version else ")")
        details = "; ".join(f"argument {p}" for p in problems)
        raise InvalidPayload(f"{entry.name}(): {details}{where}")
