"""Interval schedules and previous_fires (the fires the scheduler publishes), from tables."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jetjobs.scheduler import ScheduleDefinition, build_definition, next_fire, previous_fires


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def every(seconds: float | timedelta, **fields: Any) -> ScheduleDefinition:
    return build_definition("s", "t", every=seconds, queue="q", **fields)


def cron(expression: str) -> ScheduleDefinition:
    return build_definition("s", "t", cron=expression, queue="q")


def fires(spec: ScheduleDefinition, after: datetime, count: int) -> list[datetime]:
    found: list[datetime] = []
    for _ in range(count):
        after = next_fire(spec, after)
        found.append(after)
    return found


START = utc(2026, 1, 1, 0, 0, 3)


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        # epoch anchor: multiples of the interval since 1970-01-01Z, not "after + interval"
        (every(300), utc(2026, 1, 1, 0, 2), [utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 10)]),
        (every(300), utc(2026, 1, 1, 0, 4, 59), [utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 10)]),
        # 5 h does not divide a day: 2025-12-31 23:00Z is a multiple of 5 h since the epoch
        (every(timedelta(hours=5)), utc(2026, 1, 1), [utc(2026, 1, 1, 4), utc(2026, 1, 1, 9)]),
        (every(7), utc(2026, 1, 1, 0, 0, 1), [utc(2026, 1, 1, 0, 0, 7), utc(2026, 1, 1, 0, 0, 14)]),
        (every(1), utc(2026, 1, 1, 0, 0, 0, 500000), [utc(2026, 1, 1, 0, 0, 1), utc(2026, 1, 1, 0, 0, 2)]),
        # fractional intervals
        (
            every(1.5),
            utc(2026, 1, 1),
            [utc(2026, 1, 1, 0, 0, 1, 500000), utc(2026, 1, 1, 0, 0, 3), utc(2026, 1, 1, 0, 0, 4, 500000)],
        ),
        (every(2.5), utc(2026, 1, 1, 0, 0, 1), [utc(2026, 1, 1, 0, 0, 2, 500000), utc(2026, 1, 1, 0, 0, 5)]),
        # start_at: the first fire is start_at itself while `after` is before it
        (every(10, start_at=START), utc(2025, 6, 1), [START, utc(2026, 1, 1, 0, 0, 13), utc(2026, 1, 1, 0, 0, 23)]),
        (every(10, start_at=START), START - timedelta(microseconds=1), [START, utc(2026, 1, 1, 0, 0, 13)]),
        # then start_at + k * every
        (every(10, start_at=START), START, [utc(2026, 1, 1, 0, 0, 13), utc(2026, 1, 1, 0, 0, 23)]),
        (every(10, start_at=START), utc(2026, 1, 1, 0, 0, 20), [utc(2026, 1, 1, 0, 0, 23), utc(2026, 1, 1, 0, 0, 33)]),
        (every(10, start_at=START), utc(2026, 1, 2), [utc(2026, 1, 2, 0, 0, 3), utc(2026, 1, 2, 0, 0, 13)]),
        # start_at with a fixed offset: 02:00+02:00 is 00:00Z
        (
            every(3600, start_at=datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))),
            utc(2025, 12, 1),
            [utc(2026, 1, 1), utc(2026, 1, 1, 1)],
        ),
        (every(1.5, start_at=START), START, [utc(2026, 1, 1, 0, 0, 4, 500000), utc(2026, 1, 1, 0, 0, 6)]),
    ],
)
def test_interval_next_fires(spec: ScheduleDefinition, after: datetime, expected: list[datetime]) -> None:
    found = fires(spec, after, len(expected))
    assert found == expected
    assert all(f.tzinfo is UTC for f in found)


@pytest.mark.parametrize("seconds", [1, 1.5, 7, 60, 300, 3600 * 5, 86400])
def test_replicas_started_at_different_times_agree_on_the_interval_grid(seconds: float) -> None:
    spec = every(seconds)
    starts = [utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 0, 1), utc(2026, 1, 1, 0, 0, 0, 999999)]
    grids = [fires(spec, start, 5) for start in starts]
    assert grids[0] == grids[1] == grids[2]
    for fire in grids[0]:
        assert (fire - utc(1970, 1, 1)).total_seconds() % seconds == 0


@pytest.mark.parametrize(
    ("spec", "now", "after", "limit", "expected"),
    [
        # hourly cron: fires in (after, now], oldest first
        (cron("0 * * * *"), utc(2026, 1, 1, 5), utc(2026, 1, 1, 1), 100, [utc(2026, 1, 1, h) for h in (2, 3, 4, 5)]),
        (
            cron("0 * * * *"),
            utc(2026, 1, 1, 4, 59, 59),
            utc(2026, 1, 1, 1),
            100,
            [utc(2026, 1, 1, h) for h in (2, 3, 4)],
        ),
        (
            cron("0 * * * *"),
            utc(2026, 1, 1, 5),
            utc(2026, 1, 1, 0, 59, 59),
            100,
            [utc(2026, 1, 1, h) for h in (1, 2, 3, 4, 5)],
        ),
        # at most the latest `limit`
        (cron("0 * * * *"), utc(2026, 1, 1, 5), utc(2026, 1, 1, 1), 2, [utc(2026, 1, 1, 4), utc(2026, 1, 1, 5)]),
        (cron("0 * * * *"), utc(2026, 1, 1, 5), None, 3, [utc(2026, 1, 1, h) for h in (3, 4, 5)]),
        (cron("0 * * * *"), utc(2026, 1, 1, 5), None, 1, [utc(2026, 1, 1, 5)]),
        # nothing due
        (cron("0 * * * *"), utc(2026, 1, 1, 5, 30), utc(2026, 1, 1, 5), 100, []),
        (cron("0 * * * *"), utc(2026, 1, 1, 5), utc(2026, 1, 1, 5), 100, []),
        (cron("0 * * * *"), utc(2026, 1, 1, 5), utc(2026, 1, 1, 6), 100, []),
        # seconds first
        (
            cron("*/15 * * * * *"),
            utc(2026, 1, 1, 0, 1),
            utc(2026, 1, 1, 0, 0, 15),
            100,
            [utc(2026, 1, 1, 0, 0, 30), utc(2026, 1, 1, 0, 0, 45), utc(2026, 1, 1, 0, 1)],
        ),
        # intervals (epoch anchor)
        (every(10), utc(2026, 1, 1, 0, 0, 30), utc(2026, 1, 1), 100, [utc(2026, 1, 1, 0, 0, s) for s in (10, 20, 30)]),
        (every(10), utc(2026, 1, 1, 0, 0, 30), None, 2, [utc(2026, 1, 1, 0, 0, 20), utc(2026, 1, 1, 0, 0, 30)]),
        (
            every(1.5),
            utc(2026, 1, 1, 0, 0, 3),
            utc(2026, 1, 1),
            100,
            [utc(2026, 1, 1, 0, 0, 1, 500000), utc(2026, 1, 1, 0, 0, 3)],
        ),
        # intervals with start_at: nothing before it, start_at itself included
        (
            every(10, start_at=START),
            utc(2026, 1, 1, 0, 0, 30),
            None,
            100,
            [utc(2026, 1, 1, 0, 0, s) for s in (3, 13, 23)],
        ),
        (every(10, start_at=START), utc(2026, 1, 1, 0, 0, 2), None, 100, []),
        (every(10, start_at=START), START, None, 100, [START]),
        (
            every(10, start_at=START),
            utc(2026, 1, 1, 0, 0, 30),
            START,
            100,
            [utc(2026, 1, 1, 0, 0, 13), utc(2026, 1, 1, 0, 0, 23)],
        ),
    ],
)
def test_previous_fires(
    spec: ScheduleDefinition, now: datetime, after: datetime | None, limit: int, expected: list[datetime]
) -> None:
    found = previous_fires(spec, now, after, limit)
    assert found == expected
    assert all(f.tzinfo is UTC for f in found)


@pytest.mark.parametrize(
    "spec", [cron("0 8 * * *"), cron("*/15 * * * * *"), every(60), every(1.5), every(10, start_at=START)]
)
def test_previous_fires_includes_a_fire_at_now_and_excludes_one_at_after(spec: ScheduleDefinition) -> None:
    first = next_fire(spec, utc(2026, 1, 1, 12))
    second = next_fire(spec, first)
    third = next_fire(spec, second)
    assert previous_fires(spec, third, first) == [second, third]
    assert previous_fires(spec, third - timedelta(microseconds=1), first) == [second]
    assert previous_fires(spec, third, first - timedelta(microseconds=1)) == [first, second, third]


def test_previous_fires_default_limit_is_100() -> None:
    spec = every(60)
    found = previous_fires(spec, utc(2026, 1, 2), utc(2026, 1, 1))
    assert len(found) == 100
    assert found[-1] == utc(2026, 1, 2)
    assert found[0] == utc(2026, 1, 2) - timedelta(minutes=99)


@pytest.mark.parametrize(
    ("spec", "step"),
    [
        (cron("* * * * * *"), timedelta(seconds=1)),
        (every(1), timedelta(seconds=1)),
        (every(1.5), timedelta(seconds=1.5)),
    ],
)
@pytest.mark.parametrize("after_is_none", [False, True])
def test_previous_fires_over_a_30_day_gap_returns_only_the_latest_100_quickly(
    spec: ScheduleDefinition, step: timedelta, after_is_none: bool
) -> None:
    now = utc(2026, 2, 1)
    after = None if after_is_none else now - timedelta(days=30)
    started = time.perf_counter()
    found = previous_fires(spec, now, after)
    elapsed = time.perf_counter() - started
    assert len(found) == 100
    assert found[-1] == now
    assert found[0] == now - 99 * step
    assert all(b - a == step for a, b in itertools.pairwise(found))
    assert elapsed < 1.0
