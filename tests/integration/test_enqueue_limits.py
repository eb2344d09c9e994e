"""Arguments a worker could never decode are refused at enqueue, with InvalidPayload and nothing published."""

from __future__ import annotations

from typing import Any

import pytest

from jetjobs import App, InvalidPayload
from tests.helpers import AppFactory


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def register(app: App) -> None:
    @app.task(queue="limits")
    async def typed(x: int) -> None: ...

    @app.task(queue="limits")
    async def anything(x: object) -> None: ...

    @app.task(queue="limits")
    async def untyped(x) -> None:  # type: ignore[no-untyped-def]
        ...


@pytest.mark.parametrize(
    ("task", "arg", "message"),
    [
        ("anything", nested(10_000), "nested too deeply"),
        ("untyped", nested(10_000), "nested too deeply"),
        ("typed", 10**5000, "integer too long"),
        ("anything", 10**5000, "integer too long"),
        ("untyped", {"n": 10**5000}, "integer too long"),
    ],
    ids=["deep-object", "deep-untyped", "digits-int", "digits-object", "digits-in-dict"],
)
async def test_arguments_no_worker_could_decode_are_refused(
    app_factory: AppFactory, task: str, arg: Any, message: str
) -> None:
    app = app_factory(register)
    async with app:
        await app.provision(["limits"])
        with pytest.raises(InvalidPayload, match=message):
            await app.tasks[task].enqueue(arg)
        with pytest.raises(InvalidPayload, match=message):
            await app.enqueue("elsewhere", [arg], queue="limits")  # by name: no signature to convert with
        info = await app.connection.js.stream_info("JOBS_limits")
    assert info.state.messages == 0


@pytest.mark.parametrize("delay_s", [float("inf"), float("-inf"), float("nan"), 1e300, -1.0])
async def test_a_delay_that_is_not_a_sane_number_of_seconds_is_refused(app_factory: AppFactory, delay_s: float) -> None:
    app = app_factory(register)
    async with app:
        with pytest.raises(InvalidPayload, match="delay_s must be >= 0 and at most 100 years"):
            await app.tasks["typed"].options(delay_s=delay_s).enqueue(1)
