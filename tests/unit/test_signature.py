"""Signature: argument validation and JSON encoding from a function's signature (no server)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from pydantic import BaseModel

from jetjobs._signature import Signature
from jetjobs.errors import ConfigError, InvalidPayload


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip: int


def positional_only(a: int, b: str = "x", /) -> Any:
    return (a, b)


def keywords(to: str, subject: str, body: str = "", *, urgent: bool = False) -> Any:
    return (to, subject, body, urgent)


def var_positional(first: int, *rest: int) -> Any:
    return (first, rest)


def var_keyword(name: str, **tags: str) -> Any:
    return (name, tags)


def rich(when: date, at: datetime, colour: Colour, address: Address, gap: timedelta) -> Any:
    return (when, at, colour, address, gap)


def untyped(a, b=2):  # type: ignore[no-untyped-def]
    return (a, b)


def mixed(a: int, /, b: int, *args: int, c: int = 3, **kw: int) -> Any:
    return (a, b, args, c, kw)


FUNCTIONS = {fn.__name__: fn for fn in (positional_only, keywords, var_positional, var_keyword, rich, untyped, mixed)}
SIGS = {name: Signature(fn, name) for name, fn in FUNCTIONS.items()}

WHEN = date(2026, 1, 2)
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADDRESS = Address(street="Main St", zip=12345)


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("positional_only", (1,), {}),
        ("positional_only", (1, "y"), {}),
        ("keywords", ("a@b",), {"subject": "hi"}),
        ("keywords", ("a@b", "hi", "text"), {"urgent": True}),
        ("var_positional", (1,), {}),
        pytest.param("var_positional", (1, 2, 3), {}),
        ("var_keyword", ("n",), {"env": "prod", "team": "core"}),
        ("untyped", ([1, {"x": None}],), {}),
        ("untyped", (1,), {"b": "two"}),
        ("mixed", (1, 2), {"c": 4, "z": 5}),
        pytest.param("mixed", (1, 2, 9, 9), {"c": 4, "z": 5}),
        ("rich", (WHEN, AT, Colour.BLUE, ADDRESS, timedelta(seconds=90)), {}),
    ],
)
def test_call_survives_encode_json_decode(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    sig, fn = SIGS[name], FUNCTIONS[name]
    wire = json.loads(json.dumps(sig.encode_call(args, kwargs)))  # must be plain JSON
    call_args, call_kwargs = sig.decode_call(*wire)
    assert fn(*call_args, **call_kwargs) == fn(*args, **kwargs)


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "wire"),
    [
        ("positional_only", (1,), {}, ([1], {})),
        ("positional_only", ("7", "y"), {}, ([7, "y"], {})),  # validated, so "7" becomes 7
        ("keywords", ("a@b", "hi"), {"urgent": True}, ([], {"to": "a@b", "subject": "hi", "urgent": True})),
        ("var_keyword", ("n",), {"env": "prod"}, ([], {"name": "n", "env": "prod"})),
        ("mixed", (1, 2), {"z": 5}, ([1], {"b": 2, "z": 5})),
    ],
)
def test_wire_form_of_a_call(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], wire: tuple[list[Any], dict[str, Any]]
) -> None:
    assert SIGS[name].encode_call(args, kwargs) == wire


def test_defaults_are_not_sent_and_are_filled_by_the_function() -> None:
    wire = SIGS["keywords"].encode_call(("a@b", "hi"), {})
    assert wire == ([], {"to": "a@b", "subject": "hi"})
    assert SIGS["keywords"].decode_call(*wire) == ([], {"to": "a@b", "subject": "hi"})


def test_rich_values_are_encoded_as_json_and_rebuilt() -> None:
    sig = SIGS["rich"]
    wire = sig.encode_call((WHEN, AT, Colour.BLUE, ADDRESS, timedelta(seconds=90)), {})
    assert wire[1] == {
        "when": "2026-01-02",
        "at": "2026-01-02T03:04:05Z",
        "colour": "blue",
        "address": {"street": "Main St", "zip": 12345},
        "gap": "PT1M30S",
    }
    _, kwargs = sig.decode_call(*json.loads(json.dumps(wire)))
    assert kwargs == {
        "when": WHEN,
        "at": AT,
        "colour": Colour.BLUE,
        "address": ADDRESS,
        "gap": timedelta(seconds=90),
    }
    assert type(kwargs["address"]) is Address
    assert type(kwargs["colour"]) is Colour


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "message"),
    [
        ("keywords", (), {}, "missing a required argument: 'to'"),
        ("keywords", ("a@b",), {}, "missing a required argument: 'subject'"),
        ("keywords", ("a", "b", "c", "d"), {}, "too many positional arguments"),
        ("keywords", ("a", "b"), {"cc": "x"}, "unexpected keyword argument 'cc'"),
        ("keywords", ("a", "b"), {"urgent": "maybe"}, "argument 'urgent'"),
        ("keywords", (1, "b"), {}, "argument 'to'"),
        ("positional_only", ("NaN-int",), {}, "argument 'a'"),
        ("positional_only", (), {"a": 1}, "positional only"),
        ("var_positional", (1, "x"), {}, "argument 'rest.0'"),
        ("var_keyword", ("n",), {"env": 3}, "argument 'tags.env'"),
        ("rich", ("not a date", AT, Colour.RED, ADDRESS, 1), {}, "argument 'when'"),
        ("rich", (WHEN, AT, "green", ADDRESS, 1), {}, "argument 'colour'"),
        ("rich", (WHEN, AT, "red", {"street": "x"}, 1), {}, "argument 'address.zip'"),
    ],
)
def test_bad_calls_raise_invalid_payload_naming_the_argument(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message) as info:
        SIGS[name].encode_call(args, kwargs)
    assert str(info.value).startswith(f"{name}(): ")


@pytest.mark.parametrize(
    ("name", "wire_args", "wire_kwargs", "message"),
    [
        ("keywords", [], {"to": "a"}, "'subject'"),
        ("keywords", [], {"to": "a", "subject": "b", "extra": 1}, "'extra'"),
        ("rich", [], {"when": "2026-13-45", "at": "x", "colour": "red", "address": {}, "gap": 1}, "'when'"),
        ("positional_only", ["one"], {}, "argument 'a'"),
    ],
)
def test_bad_wire_arguments_raise_invalid_payload(
    name: str, wire_args: list[Any], wire_kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        SIGS[name].decode_call(wire_args, wire_kwargs)


def returns_dict() -> dict[str, int]: ...


def returns_date() -> date: ...


def returns_model() -> Address: ...


def returns_anything():  # type: ignore[no-untyped-def]
    ...


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (returns_dict, {"a": 1}, b'{"a":1}'),
        (returns_date, WHEN, b'"2026-01-02"'),
        (returns_model, ADDRESS, b'{"street":"Main St","zip":12345}'),
        (returns_anything, None, b"null"),
        (returns_anything, [1, "two", {"x": AT}], b'[1,"two",{"x":"2026-01-02T03:04:05Z"}]'),
        (returns_anything, Colour.RED, b'"red"'),
        (returns_anything, Decimal("1.5"), b'"1.5"'),
    ],
)
def test_encode_result(fn: Any, value: Any, expected: bytes) -> None:
    assert Signature(fn, "t").encode_result(value) == expected


@pytest.mark.parametrize("value", [object(), b"\xff", lambda: 1])
def test_non_json_result_raises_invalid_payload(value: Any) -> None:
    with pytest.raises(InvalidPayload, match="task 't' returned a value that is not JSON"):
        Signature(returns_anything, "t").encode_result(value)


def unresolvable(x: NoSuchType) -> None: ...  # type: ignore[name-defined]  # noqa: F821


def test_unresolvable_annotation_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="task 'bad': cannot resolve type hints"):
        Signature(unresolvable, "bad")


def with_private_name(_token: str) -> None: ...


def test_parameter_with_leading_underscore_round_trips() -> None:
    sig = Signature(with_private_name, "private")
    wire = sig.encode_call(("t",), {})
    assert sig.decode_call(*wire) == ([], {"_token": "t"})


def test_fast_path_returns_what_pydantic_would() -> None:
    def f(name: str, count: int, ratio: float, flag: bool, data: dict, items: list, anything: Any = None) -> None: ...  # type: ignore[type-arg]

    sig = Signature(f, "f")
    exact = {"name": "a", "count": 2, "ratio": 0.5, "flag": True, "data": {"k": [1]}, "items": [1, "x"]}
    assert sig.decode_call([], exact) == ([], exact)
    assert sig.encode_call(("a", 2), {k: v for k, v in exact.items() if k not in ("name", "count")}) == ([], exact)
    # Values pydantic would convert take the slow path and are converted the same way.
    assert sig.decode_call([], {**exact, "count": True, "ratio": 3})[1] == {**exact, "count": 1, "ratio": 3.0}
    with pytest.raises(InvalidPayload, match="count"):
        sig.decode_call([], {**exact, "count": "many"})
    with pytest.raises(InvalidPayload, match="missing"):
        sig.decode_call([], {"name": "a"})
    # A date inside a dict passes the fast check; the slow path converts it as pydantic does.
    assert sig.encode_call((), {**exact, "data": {"d": date(2024, 1, 2)}}, fast=False)[1]["data"] == {"d": "2024-01-02"}


def test_fast_path_covers_generic_json_containers_and_optionals() -> None:
    def g(
        data: dict[str, Any], items: list[Any], note: str | None = None, extra: dict[str, Any] | None = None
    ) -> None: ...

    sig = Signature(g, "g")
    assert sig._checks is not None  # every parameter is checked without pydantic
    call = {"data": {"k": {"deep": [1]}}, "items": [1, "x"], "note": None, "extra": {"a": 1}}
    assert sig.decode_call([], call) == ([], call)
    assert sig.encode_call((), call) == ([], call)
    # A dict with a key that is not a string is not JSON-ready: pydantic says so, naming the argument.
    with pytest.raises(InvalidPayload, match="data"):
        sig.encode_call(({1: "x"}, []), {})
    # Values of another type take the slow path and get pydantic's answer.
    with pytest.raises(InvalidPayload, match="note"):
        sig.decode_call([], {**call, "note": 5})
    with pytest.raises(InvalidPayload, match="items"):
        sig.decode_call([], {**call, "items": "abc"})


def test_parametrised_containers_of_other_types_keep_pydantic() -> None:
    def h(counts: dict[str, int]) -> None: ...

    sig = Signature(h, "h")
    assert sig._checks is None  # the values need checking: pydantic does it
    assert sig.decode_call([], {"counts": {"a": 1}}) == ([], {"counts": {"a": 1}})
    with pytest.raises(InvalidPayload, match="counts"):
        sig.decode_call([], {"counts": {"a": "many"}})
