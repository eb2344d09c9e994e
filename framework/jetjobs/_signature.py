"""Argument validation from a function's signature, with pydantic.

The producer validates and JSON-encodes arguments before publishing; the worker
validates the JSON again and rebuilds Python values (dates, models, enums...).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model
from pydantic_core import PydanticSerializationError

from .errors import ConfigError, InvalidPayload

_P = inspect.Parameter


class Signature:
    """Validates calls of one function and encodes its return values."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.name = name
        self._sig = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(fn)
        except Exception as exc:
            raise ConfigError(f"task {name!r}: cannot resolve type hints: {exc}") from None
        fields: dict[str, Any] = {}
        for param in self._sig.parameters.values():
            annotation = hints.get(param.name, Any)
            if param.kind is _P.VAR_POSITIONAL:
                fields[param.name] = (list[annotation], [])  # type: ignore[valid-type]
            elif param.kind is _P.VAR_KEYWORD:
                fields[param.name] = (dict[str, annotation], {})  # type: ignore[valid-type]
            else:
                default = ... if param.default is _P.empty else param.default
                fields[param.name] = (annotation, default)
        try:
            self._model: type[BaseModel] = create_model(
                f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
            )
            self._result = TypeAdapter(hints.get("return", Any))
        except Exception as exc:
            raise ConfigError(f"task {name!r}: unsupported argument types: {exc}") from None

    def encode_call(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """Validate a Python call and return JSON-ready (args, kwargs) for the wire.

        Parameters that can be named travel in ``kwargs``; positional-only ones and
        ``*args`` in ``args``.
        """
        values = self._validate(args, kwargs)
        dumped = values.model_dump(mode="json", exclude_unset=True)
        wire_args: list[Any] = []
        wire_kwargs: dict[str, Any] = {}
        for param in self._sig.parameters.values():
            if param.name not in dumped:
                continue
            if param.kind is _P.POSITIONAL_ONLY:
                wire_args.append(dumped[param.name])
            elif param.kind is _P.VAR_POSITIONAL:
                wire_args.extend(dumped[param.name])
            elif param.kind is _P.VAR_KEYWORD:
                wire_kwargs.update(dumped[param.name])
            else:
                wire_kwargs[param.name] = dumped[param.name]
        return wire_args, wire_kwargs

    def decode_call(self, args: list[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate wire arguments and return Python (args, kwargs) ready to call the function."""
        values = self._validate(tuple(args), kwargs)
        call_args: list[Any] = []
        call_kwargs: dict[str, Any] = {}
        for param in self._sig.parameters.values():
            if param.name not in values.model_fields_set and param.default is not _P.empty:
                continue
            value = getattr(values, param.name)
            if param.kind is _P.POSITIONAL_ONLY:
                call_args.append(value)
            elif param.kind is _P.VAR_POSITIONAL:
                call_args.extend(value)
            elif param.kind is _P.VAR_KEYWORD:
                call_kwargs.update(value)
            else:
                call_kwargs[param.name] = value
        return call_args, call_kwargs

    def encode_result(self, value: Any) -> bytes:
        """JSON-encode a return value; raise InvalidPayload if it cannot be encoded."""
        try:
            return self._result.dump_json(value)
        except (PydanticSerializationError, ValueError, TypeError) as exc:
            raise InvalidPayload(f"task {self.name!r} returned a value that is not JSON: {exc}") from None

    def _validate(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> BaseModel:
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidPayload(f"{self.name}(): {exc}") from None
        try:
            return self._model.model_validate(bound.arguments)
        except ValidationError as exc:
            raise InvalidPayload(f"{self.name}(): {_summarise(exc)}") from None


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"argument {where!r}: {err['msg']}")
    return "; ".join(parts)
