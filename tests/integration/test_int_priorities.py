"""Integer priorities: higher first, mapped onto high / normal / low; the names still work."""

from __future__ import annotations

import pytest

from jetjobs import App
from jetjobs._names import check_priority
from jetjobs.errors import ConfigError
from tests.helpers import AppFactory, eventually, running_worker


@pytest.mark.parametrize(
    ("given", "level"),
    [(10, "high"), (5, "high"), (4, "normal"), (0, "normal"), (-4, "normal"), (-5, "low"), (-10, "low"),
     ("high", "high"), ("normal", "normal"), ("low", "low")],
)  # fmt: skip
def test_integers_map_onto_the_levels(given: str | int, level: str) -> None:
    assert check_priority(given) == level


def test_other_values_are_refused_with_the_thresholds() -> None:
    with pytest.raises(ConfigError, match=r"invalid priority 'urgent': .* or an integer \(>= 5 high, <= -5 low"):
        check_priority("urgent")
    with pytest.raises(ConfigError):
        check_priority(True)  # a bool is not a priority


async def test_integer_priorities_are_served_higher_first(app_factory: AppFactory) -> None:
    order: list[int] = []

    def register(app: App) -> None:
        @app.task(queue="iprio", priority=-10)  # the task's default: low
        async def step(p: int) -> None:
            order.append(p)

    producer, worker_app = app_factory(register), app_factory(register)
    step = producer.tasks["step"]
    async with producer:
        for p in (-10, 0, 10, -7, 3, 7):
            await step.options(priority=p).enqueue(p)
        await producer.enqueue("step", args=[-99], queue="iprio")  # no priority: the task's, low
        async with running_worker(worker_app, concurrency=1):
            await eventually(lambda: len(order) == 7)
    assert order == [10, 7, 0, 3, -10, -7, -99]  # high, normal, low; in order of enqueue within a level
