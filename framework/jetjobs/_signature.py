"""Argument validation from a function's signature, with pydantic.

The producer validates and JSON-encodes arguments before publishing; the worker
validates the JSON again and rebuilds Python values (dates, models, enums...).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic_core import PydanticSerializationError

from .errors import ConfigError, InvalidPayload

_P = inspect.Parameter


class Signature:
    """Validates calls of one function and encodes its return values."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.name = name
        self._sig = inspect.signature(fn)
        self._params = list(self._sig.parameters.values())
        self.parameter_names = frozenset(self._sig.parameters)
        try:
            hints = typing.get_type_hints(fn)
        except Exception as exc:
            raise ConfigError(f"task {name!r}: cannot resolve type hints: {exc}") from None
        # Field names are positional ("p0", "p1"...) with the parameter name as alias:
        # pydantic would treat a parameter such as ``_token`` as a private attribute.
        fields: dict[str, Any] = {}
        for index, param in enumerate(self._params):
            annotation: Any = hints.get(param.name, Any)
            default: Any
            if param.kind is _P.VAR_POSITIONAL:
                annotation, default = list[annotation], []
            elif param.kind is _P.VAR_KEYWORD:
                annotation, default = dict[str, annotation], {}
            else:
                default = ... if param.default is _P.empty else param.default
            fields[f"p{index}"] = (annotation, Field(default, alias=param.name))
        try:
            self._model: type[BaseModel] = create_model(
                f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
            )
            self._result = TypeAdapter(hints.get("return", Any))
        except Exception as exc:
            raise ConfigError(f"task {name!r}: unsupported argument types: {exc}") from None

    def encode_call(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate a Python call and return JSON-ready (args, kwargs) for the wire.

        Parameters that can be named travel in ``kwargs``, except those before a
        non-empty ``*args``; positional-only ones and ``*args`` travel in ``args``.
        """
        values = self._validate(args, kwargs)
        dumped = values.model_dump(mode="json", exclude_unset=True, by_alias=True)
        return self._split(dumped)

    def decode_call(self, args: list[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate wire arguments and return Python (args, kwargs) ready to call the function."""
        values = self._validate(tuple(args), kwargs)
        given = {self._params[int(f[1:])].name: getattr(values, f) for f in values.model_fields_set}
        return self._split(given)

    def _split(self, values: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Place named values as positional or keyword arguments, as the signature requires."""
        varargs = next((p for p in self._params if p.kind is _P.VAR_POSITIONAL), None)
        positional_before_varargs = bool(varargs is not None and values.get(varargs.name))
        call_args: list[Any] = []
        call_kwargs: dict[str, Any] = {}
        for param in self._params:
            if param.name not in values:
                continue
            value = values[param.name]
            if param.kind is _P.VAR_POSITIONAL:
                call_args.extend(value)
            elif param.kind is _P.VAR_KEYWORD:
                call_kwargs.update(value)
            elif param.kind is _P.POSITIONAL_ONLY or (
                positional_before_varargs and param.kind is _P.POSITIONAL_OR_KEYWORD
            ):
                call_args.append(value)
            else:
                call_kwargs[param.name] = value
        return call_args, call_kwargs

    def encode_result(self, value: Any) -> bytes:
        """JSON-encode a return value; raise InvalidPayload if it cannot be encoded."""
        try:
            return self._result.dump_json(value, warnings=False)
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
