"""SharedBucket with a fake clock and an in-memory counter: windows, caps, several replicas."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from jetjobs.worker._ratelimit import MIN_WINDOW_S, SharedBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Server:
    """The counter stream: one total per window, added to atomically."""

    def __init__(self) -> None:
        self.totals: Counter[int] = Counter()
        self.calls = 0

    async def count(self, window: int, wanted: int) -> int:
        self.calls += 1
        self.totals[window] += wanted
        return self.totals[window]


async def _take_all(bucket: SharedBucket) -> int:
    taken = 0
    for _ in range(100):
        if bucket.take():
            taken += 1
            continue
        await asyncio.sleep(0)  # let the count in flight answer
        if bucket.wait_s() > 0.005:  # the window is used up
            return taken
    return taken


@pytest.mark.parametrize(
    ("rate", "burst", "window_s", "per_window"),
    [(100, 10, 0.1, 10), (10, 1, 0.1, 1), (1000, 1, MIN_WINDOW_S, 50), (2, None, 1.0, 2), (0.5, 1, 2.0, 1)],
)
def test_windows_follow_burst_over_rate(rate: float, burst: int | None, window_s: float, per_window: int) -> None:
    bucket = SharedBucket(rate, burst, count=Server().count, want=100)
    assert (bucket.window_s, bucket.per_window) == (pytest.approx(window_s), per_window)


async def test_three_replicas_share_one_cap_per_window() -> None:
    clock, server = Clock(), Server()
    replicas = [SharedBucket(100, 10, count=server.count, want=4, clock=clock) for _ in range(3)]
    started = 0
    for _ in range(50):  # five seconds of windows
        for bucket in replicas:
            started += await _take_all(bucket)
        clock.now += 0.1
    assert started == 50 * 10


async def test_a_replica_that_stops_leaves_its_share_to_the_others() -> None:
    clock, server = Clock(), Server()
    a, b = (SharedBucket(100, 10, count=server.count, want=10, clock=clock) for _ in range(2))
    assert await _take_all(a) == 10  # a took the whole window
    assert await _take_all(b) == 0
    clock.now += 0.1
    assert await _take_all(b) == 10  # a is gone: b gets the next window whole


async def test_tokens_die_with_their_window_and_a_late_answer_is_void() -> None:
    clock, server = Clock(), Server()
    bucket = SharedBucket(100, 10, count=server.count, want=10, clock=clock)
    assert bucket.available() == 0  # asks
    clock.now += 0.1  # the answer comes in the next window
    await asyncio.sleep(0)
    assert bucket.available() == 0
    await asyncio.sleep(0)
    assert bucket.available() == 10
    clock.now += 0.1
    assert bucket.take() is False
    assert 0 < bucket.wait_s() <= 0.005  # asking


async def test_a_failing_counter_starts_nothing_until_the_next_window() -> None:
    clock = Clock()

    async def down(window: int, wanted: int) -> int:
        raise ConnectionError("server away")

    clock.now = 1000.04  # 0.06 s before the window ends
    bucket = SharedBucket(100, 10, count=down, want=10, clock=clock)
    assert bucket.take() is False
    await asyncio.sleep(0)
    assert bucket.take() is False
    assert bucket.wait_s() == pytest.approx(0.061, abs=0.002)
