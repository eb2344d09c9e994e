"""The catalog's small JSON Schema checker, against the schemas pydantic writes for task arguments."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from jetjobs._catalog import CatalogEntry, Parameter, bind_arguments, check_arguments
from jetjobs._jsonschema import check
from jetjobs._signature import Signature
from jetjobs.errors import InvalidPayload


class Color(Enum):
    RED = "red"


class Item(BaseModel):
    sku: str = Field(min_length=2)
    qty: int = Field(ge=1)


def order(
    customer: str,
    items: list[Item],
    when: datetime,
    mode: Literal["fast", "slow"] = "fast",
    color: Color | None = None,
    pair: tuple[int, str] = (1, "a"),
    note: str | None = None,
) -> None: ...


SCHEMA = Signature(order, "order").arguments_schema()
GOOD: dict[str, Any] = {"customer": "c", "items": [{"sku": "ab", "qty": 1}], "when": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({}, None),
        ({"mode": "slow", "color": "red", "pair": [2, "b"], "note": None}, None),
        ({"customer": 1}, "customer: 1 is not of type string"),
        ({"items": [{"sku": "a", "qty": 1}]}, "items[0].sku: is shorter than 2 characters"),
        ({"items": [{"sku": "ab", "qty": 0}]}, "items[0].qty: 0 is not >= 1"),
        ({"items": [{"sku": "ab"}]}, "items[0].qty: is required"),
        ({"when": "yesterday"}, "when: 'yesterday' is not a valid date-time"),
        ({"mode": "medium"}, "mode: 'medium' is not one of"),
        ({"color": "blue"}, "color: 'blue' matches none of the allowed types"),
        ({"pair": [1, 2]}, "pair[1]: 2 is not of type string"),
        ({"pair": [1, "a", 3]}, "pair: has 3 items, more than 2"),
        ({"extra": 1}, "extra: is not an accepted field"),
        ({"customer": True}, "customer: True is not of type string"),
    ],
)
def test_check_against_pydantic_schemas(change: dict[str, Any], problem: str | None) -> None:
    problems = check(SCHEMA, {**GOOD, **change})
    if problem is None:
        assert problems == []
    else:
        assert any(p.startswith(problem) for p in problems), problems


def test_missing_required_and_integer_rules() -> None:
    assert check(SCHEMA, {}) == ["customer: is required", "items: is required", "when: is required"]
    assert check({"type": "integer"}, True) == ["value: True is not of type integer"]
    assert check({"type": "integer"}, 2.0) == []
    assert check({"type": "number", "multipleOf": 0.5}, 1.25) == ["value: 1.25 is not a multiple of 0.5"]


def _entry(params: list[tuple[str, str]]) -> CatalogEntry:
    return CatalogEntry(name="t", queue="q", parameters=tuple(Parameter(name=n, kind=k) for n, k in params))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "args", "kwargs", "bound"),
    [
        ([("a", "positional_or_keyword"), ("b", "positional_or_keyword")], [1], {"b": 2}, {"a": 1, "b": 2}),
        ([("a", "positional_or_keyword"), ("rest", "var_positional")], [1, 2, 3], {}, {"a": 1, "rest": [2, 3]}),
        ([("a", "keyword_only"), ("kw", "var_keyword")], [], {"a": 1, "z": 2}, {"a": 1, "kw": {"z": 2}}),
        ([("a", "positional_only")], [1], {}, {"a": 1}),
    ],
)
def test_bind_arguments(
    params: list[tuple[str, str]], args: list[Any], kwargs: dict[str, Any], bound: dict[str, Any]
) -> None:
    assert bind_arguments(_entry(params), args, kwargs) == bound


def test_bind_arguments_errors() -> None:
    with pytest.raises(InvalidPayload, match="takes 1 positional arguments but 2 were given"):
        bind_arguments(_entry([("a", "positional_or_keyword")]), [1, 2], {})
    with pytest.raises(InvalidPayload, match="multiple values for argument 'a'"):
        bind_arguments(_entry([("a", "positional_or_keyword")]), [1], {"a": 2})


def test_check_arguments_names_the_service_and_version() -> None:
    entry = CatalogEntry(
        name="order",
        queue="q",
        service="shop",
        version="3",
        parameters=tuple(Parameter(name=n, kind=k) for n, k in Signature(order, "order").parameters()),  # type: ignore[arg-type]
        arguments=SCHEMA,
    )
    check_arguments(entry, ["c", [{"sku": "ab", "qty": 2}], "2026-01-01T00:00:00Z"], {})
    with pytest.raises(
        InvalidPayload, match=r"order\(\): argument customer: 1 is not of type string \(catalog of shop, version 3\)"
    ):
        check_arguments(entry, [], {**GOOD, "customer": 1})
