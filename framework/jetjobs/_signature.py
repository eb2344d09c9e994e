"""Argument validation from a function's signature, with pydantic.

The producer validates and JSON-encodes arguments before publishing; the worker
validates the JSON again and rebuilds Python values (dates, models, enums...).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, TypeAdapter, ValidationError, create_model
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
        self._checks = _fast_checks(self._params, hints)
        self._required = frozenset(p.name for p in self._params if p.default is _P.empty)
        self._positional = [p.name for p in self._params if p.kind is _P.POSITIONAL_OR_KEYWORD]
        try:
            self._model: type[BaseModel] = create_model(
                f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
            )
            self._result = TypeAdapter(hints.get("return", Any))
        except Exception as exc:
            raise ConfigError(f"task {name!r}: unsupported argument types: {exc}") from None

    def parameters(self) -> list[tuple[str, str]]:
        """``(name, kind)`` of each parameter in order; kind is ``inspect``'s, lower case."""
        return [(p.name, p.kind.name.lower()) for p in self._params]

    def arguments_schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments as one object (parameter name -> value); {} if pydantic cannot say."""
        try:
            schema = self._model.model_json_schema(by_alias=True)
        except PydanticUserError:
            return {}
        schema["title"] = f"{self.name} arguments"
        return schema

    def result_schema(self) -> dict[str, Any]:
        """JSON Schema of the JSON return value; {} (anything) if pydantic cannot say."""
        try:
            return self._result.json_schema(mode="serialization")
        except PydanticUserError:
            return {}

    def encode_call(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], *, fast: bool = True
    ) -> tuple[list[Any], dict[str, Any]]:
        """Validate a Python call and return JSON-ready (args, kwargs) for the wire.

        Parameters that can be named travel in ``kwargs``, except those before a
        non-empty ``*args``; positional-only ones and ``*args`` travel in ``args``.
        With ``fast``, values that already have their parameter's JSON type pass as
        they are (a dict may still hold something JSON cannot carry: encode with
        ``fast=False`` then, which converts it as pydantic would).
        """
        if fast and self._checks is not None and len(args) <= len(self._positional):
            named = dict(zip(self._positional, args, strict=False))
            if not named.keys() & kwargs.keys():
                named.update(kwargs)
                if self._passes(named):
                    return [], named
        values = self._validate(args, kwargs)
        try:
            dumped = values.model_dump(mode="json", exclude_unset=True, by_alias=True)
        except (RecursionError, ValueError) as exc:  # "Maximum serialization depth exceeded"
            deep = isinstance(exc, RecursionError) or "depth" in str(exc)
            why = "they are nested too deeply" if deep else str(exc)
            raise InvalidPayload(f"{self.name}(): arguments cannot be encoded as JSON: {why}") from None
        return self._split(dumped)

    def decode_call(self, args: list[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate wire arguments and return Python (args, kwargs) ready to call the function."""
        if not args and self._checks is not None and self._passes(kwargs):
            return [], dict(kwargs)  # JSON-typed parameters with values of exactly those types
        values = self._validate(tuple(args), kwargs)
        given = {self._params[int(f[1:])].name: getattr(values, f) for f in values.model_fields_set}
        return self._split(given)

    def _passes(self, values: Mapping[str, Any]) -> bool:
        """True when pydantic would return ``values`` unchanged (so it can be skipped)."""
        checks = self._checks
        assert checks is not None
        if not (self._required <= values.keys() <= checks.keys()):
            return False
        return all(checks[name](value) for name, value in values.items())

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
        except RecursionError:
            raise InvalidPayload(f"{self.name}(): arguments are nested too deeply to validate") from None


_JSON_TYPES: tuple[type, ...] = (str, int, float, bool, dict, list)


def _fast_checks(params: list[inspect.Parameter], hints: Mapping[str, Any]) -> dict[str, Callable[[Any], bool]] | None:
    """Per-parameter exact type checks, when every parameter is a plain JSON type (or Any).

    Exact types only: pydantic turns True into 1 for an int and 3 into 3.0 for a float,
    so a bool for an int or an int for a float goes the slow way and gets the same result.
    ``dict[str, Any]`` and ``list[Any]`` count as plain (a dict's keys are checked to be
    strings), and so does ``X | None`` of any of these.
    """
    checks: dict[str, Callable[[Any], bool]] = {}
    for param in params:
        if param.kind not in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY):
            return None
        check = _check_for(hints.get(param.name, Any))
        if check is None:
            return None
        checks[param.name] = check
    return checks


def _check_for(annotation: Any) -> Callable[[Any], bool] | None:
    """An exact check that pydantic would return a value of ``annotation`` unchanged, or None."""
    if annotation is Any:
        return _anything
    if annotation in _JSON_TYPES:
        return functools.partial(_is_exactly, annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict and args == (str, Any):
        return _is_str_keyed_dict
    if origin is list and args == (Any,):
        return functools.partial(_is_exactly, list)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = _check_for(next(a for a in args if a is not type(None)))
        return None if inner is None else functools.partial(_none_or, inner)
    return None


def _is_str_keyed_dict(value: Any) -> bool:
    return type(value) is dict and all(type(key) is str for key in value)


def _none_or(check: Callable[[Any], bool], value: Any) -> bool:
    return value is None or check(value)


def _anything(value: Any) -> bool:
    return True


def _is_exactly(kind: type, value: Any) -> bool:
    return type(value) is kind


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"argument {where!r}: {err['msg']}")
    return "; ".join(parts)
