"""A queue's rate limit holds across all its worker replicas (counted on the server)."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Callable

import pytest

from jetjobs import App
from tests.helpers import AppFactory, eventually, running_worker


def _registrar(queue: str, starts: list[float], **limits: object) -> Callable[[App], None]:
    def register(app: App) -> None:
        app.queue(queue, **limits)  # type: ignore[arg-type]

        @app.task(queue=queue)
        async def tick() -> None:
            starts.append(time.monotonic())

    return register


def _count(starts: list[float], start: float, end: float) -> int:
    ordered = sorted(starts)
    return bisect.bisect_left(ordered, end) - bisect.bisect_left(ordered, start)


@pytest.mark.slow
async def test_three_replicas_share_100_per_second_with_burst_10(app_factory: AppFactory) -> None:
    starts: list[float] = []
    register = _registrar("metered", starts, rate_limit=100, rate_burst=10, concurrency=16)
    producer = app_factory(register, name="producer")
    async with producer:
        await producer.provision(["metered"])
        await producer.enqueue_many(producer.tasks["tick"].call() for _ in range(1500))
        async with contextlib.AsyncExitStack() as stack:
            for i in range(3):
                await stack.enter_async_context(running_worker(app_factory(register, name=f"replica-{i}")))
            await eventually(lambda: len(starts) > 0, timeout_s=10)
            first = min(starts)
            await eventually(lambda: time.monotonic() > first + 10.5, timeout_s=15, every_s=0.1)
    started = _count(starts, first, first + 10.0)
    expected = 100 * 10 + 10
    print(f"\ncluster rate limit: 3 replicas, 100/s burst 10, 10 s: {started} starts (expected {expected} +-10%)")
    assert expected * 0.9 <= started <= expected * 1.1


@pytest.mark.slow
async def test_a_replica_leaving_or_joining_is_rebalanced_within_a_window(app_factory: AppFactory) -> None:
    starts: list[float] = []
    register = _registrar("metered2", starts, rate_limit=50, rate_burst=5, concurrency=8)
    producer = app_factory(register, name="producer")
    async with producer:
        await producer.provision(["metered2"])
        await producer.enqueue_many(producer.tasks["tick"].call() for _ in range(800))
        async with running_worker(app_factory(register, name="stays")):
            leaving = app_factory(register, name="leaves")
            async with running_worker(leaving):
                await eventually(lambda: len(starts) > 50, timeout_s=10)
                both = time.monotonic()
                await asyncio.sleep(2.0)  # measuring a rate needs elapsed time
            alone = time.monotonic()
            await asyncio.sleep(2.0)
            async with running_worker(app_factory(register, name="joins")):
                joined = time.monotonic()
                await asyncio.sleep(2.0)
                end = time.monotonic()
    rates = {
        "two replicas": _count(starts, both, both + 2.0) / 2.0,
        "one left": _count(starts, alone + 0.5, alone + 2.0) / 1.5,
        "one joined": _count(starts, joined + 0.5, end) / (end - joined - 0.5),
    }
    print(f"\nrebalance at 50/s: {rates}")
    for phase, rate in rates.items():
        assert 40 <= rate <= 60, (phase, rates)


async def test_replica_scope_keeps_a_limit_per_replica(app_factory: AppFactory) -> None:
    starts: list[float] = []
    register = _registrar("each", starts, rate_limit=10, rate_burst=1, rate_scope="replica")
    producer = app_factory(register, name="producer")
    async with producer:
        await producer.provision(["each"])
        await producer.enqueue_many(producer.tasks["tick"].call() for _ in range(100))
        async with running_worker(app_factory(register, name="a")), running_worker(app_factory(register, name="b")):
            await eventually(lambda: len(starts) >= 30, timeout_s=10)
    ordered = sorted(starts)
    span = ordered[29] - ordered[0]
    assert 1.0 <= span <= 2.0, span  # 30 starts at 2 x 10/s: about 1.5 s (one replica alone: 3 s)
