"""Daylight-saving rules of cron schedules (those of Vixie cron), from tables of UTC instants.

A wall-clock time skipped by a spring-forward fires at the first instant after
the gap; a wall-clock time that happens twice on a fall-back day fires once,
unless the hour field is ``*``: then the schedule follows real time.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jetjobs.scheduler import ScheduleDefinition, build_definition, next_fire, previous_fires


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(spec: ScheduleDefinition, after: datetime, count: int) -> list[datetime]:
    found: list[datetime] = []
    for _ in range(count):
        after = next_fire(spec, after)
        found.append(after)
    return found


NY = "America/New_York"  # 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z)
BERLIN = "Europe/Berlin"  # 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z)
LORD_HOWE = "Australia/Lord_Howe"  # 30-minute shift: 2026-04-05 02:00 -> 01:30; 2026-10-04 02:00 -> 02:30

DST_CASES = [
    # --- spring forward -------------------------------------------------------------
    # 02:30 does not exist on 03-08: fires at 03:00 EDT, then 02:30 EDT on the next days
    (
        "ny-spring-0230",
        "30 2 * * *",
        NY,
        utc(2026, 3, 7, 12),
        [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)],
    ),
    # same with seconds first
    ("ny-spring-6-field", "0 30 2 * * *", NY, utc(2026, 3, 7, 12), [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)]),
    # a skipped time on a date-restricted schedule still fires that day
    ("ny-spring-only-that-day", "30 2 8 3 *", NY, utc(2026, 1, 1), [utc(2026, 3, 8, 7), utc(2027, 3, 8, 7, 30)]),
    # two skipped times collapse into ONE fire at 03:00 EDT
    (
        "ny-spring-two-in-gap",
        "0,30 2 * * *",
        NY,
        utc(2026, 3, 7, 12),
        [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6), utc(2026, 3, 9, 6, 30)],
    ),
    # 01:00 EST, 01:30 EST, then straight to 03:00 EDT, 03:30 EDT
    (
        "ny-spring-every-30m",
        "*/30 * * * *",
        NY,
        utc(2026, 3, 8, 5, 45),
        [utc(2026, 3, 8, 6), utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30)],
    ),
    ("berlin-spring-0230", "30 2 * * *", BERLIN, utc(2026, 3, 28, 12), [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]),
    # 01:30 CET, then 03:00 CEST, 03:30 CEST
    (
        "berlin-spring-every-30m",
        "*/30 * * * *",
        BERLIN,
        utc(2026, 3, 29, 0, 15),
        [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)],
    ),
    # 02:15 is in the 30-minute gap: fires at 02:30 LHDT; before and after at 02:15 (+10:30, then +11:00)
    (
        "lord-howe-spring-0215",
        "15 2 * * *",
        LORD_HOWE,
        utc(2026, 10, 2),
        [utc(2026, 10, 2, 15, 45), utc(2026, 10, 3, 15, 30), utc(2026, 10, 4, 15, 15)],
    ),
    # --- fall back --------------------------------------------------------------------
    # 01:30 happens twice on 11-01: fires once (01:30 EDT), then at 01:30 EST on the next day
    (
        "ny-fall-0130",
        "30 1 * * *",
        NY,
        utc(2026, 10, 31, 12),
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)],
    ),
    (
        "ny-fall-0100-and-0130",
        "0,30 1 * * *",
        NY,
        utc(2026, 10, 31, 12),
        [utc(2026, 11, 1, 5), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6)],
    ),
    # asked in the middle of the repeated hour (01:15 EDT, then 01:15 EST): nothing more that day
    ("ny-fall-0130-from-first-0115", "30 1 * * *", NY, utc(2026, 11, 1, 5, 45), [utc(2026, 11, 2, 6, 30)]),
    ("ny-fall-0130-from-second-0115", "30 1 * * *", NY, utc(2026, 11, 1, 6, 15), [utc(2026, 11, 2, 6, 30)]),
    # hour "*": real time through the repeated hour: 01:00/01:30 EDT AND 01:00/01:30 EST
    (
        "ny-fall-every-30m",
        "*/30 * * * *",
        NY,
        utc(2026, 11, 1, 4, 45),
        [
            utc(2026, 11, 1, 5),
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 6),
            utc(2026, 11, 1, 6, 30),
            utc(2026, 11, 1, 7),
        ],
    ),
    (
        "ny-fall-every-30m-from-second-0115",
        "*/30 * * * *",
        NY,
        utc(2026, 11, 1, 6, 15),
        [utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7)],
    ),
    (
        "ny-fall-hourly-at-30",
        "30 * * * *",
        NY,
        utc(2026, 11, 1, 4),
        [utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)],
    ),
    (
        "ny-fall-6-field-every-30m",
        "0 */30 * * * *",
        NY,
        utc(2026, 11, 1, 5, 45),
        [utc(2026, 11, 1, 6), utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7)],
    ),
    (
        "berlin-fall-0230",
        "30 2 * * *",
        BERLIN,
        utc(2026, 10, 24, 12),
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
    ),
    (
        "berlin-fall-every-30m",
        "*/30 * * * *",
        BERLIN,
        utc(2026, 10, 24, 23, 45),
        [
            utc(2026, 10, 25, 0),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 1),
            utc(2026, 10, 25, 1, 30),
            utc(2026, 10, 25, 2),
        ],
    ),
    # 01:45 repeats in Lord Howe's 30-minute overlap: once at +11:00, then +10:30 the next day
    (
        "lord-howe-fall-0145",
        "45 1 * * *",
        LORD_HOWE,
        utc(2026, 4, 3),
        [utc(2026, 4, 3, 14, 45), utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15)],
    ),
    # --- a schedule in UTC is unaffected by any of it ----------------------------------
    ("utc-spring-0230", "30 2 * * *", "UTC", utc(2026, 3, 7, 12), [utc(2026, 3, 8, 2, 30), utc(2026, 3, 9, 2, 30)]),
    ("utc-fall-0130", "30 1 * * *", "UTC", utc(2026, 10, 31, 12), [utc(2026, 11, 1, 1, 30), utc(2026, 11, 2, 1, 30)]),
    (
        "utc-every-30m",
        "*/30 * * * *",
        "UTC",
        utc(2026, 11, 1, 4, 45),
        [utc(2026, 11, 1, 5), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6), utc(2026, 11, 1, 6, 30)],
    ),
]


@pytest.mark.parametrize(
    ("expression", "tz", "after", "expected"), [c[1:] for c in DST_CASES], ids=[c[0] for c in DST_CASES]
)
def test_next_fire_across_dst(expression: str, tz: str, after: datetime, expected: list[datetime]) -> None:
    spec = build_definition("s", "t", cron=expression, tz=tz, queue="q")
    assert fires(spec, after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "tz", "after", "expected"), [c[1:] for c in DST_CASES], ids=[c[0] for c in DST_CASES]
)
def test_previous_fires_across_dst_match_next_fire(
    expression: str, tz: str, after: datetime, expected: list[datetime]
) -> None:
    """The scheduler publishes what previous_fires returns: it must agree with next_fire."""
    spec = build_definition("s", "t", cron=expression, tz=tz, queue="q")
    assert previous_fires(spec, expected[-1], after) == expected
    assert previous_fires(spec, expected[-1] + timedelta(minutes=1), after) == expected


def test_fall_back_fires_once_over_the_whole_day() -> None:
    spec = build_definition("s", "t", cron="30 1 * * *", tz=NY, queue="q")
    day = previous_fires(spec, utc(2026, 11, 2, 4), utc(2026, 11, 1, 4))  # 11-01 00:00 EDT .. 23:00 EST
    assert day == [utc(2026, 11, 1, 5, 30)]


@pytest.mark.parametrize(
    ("tz", "day_start", "expected_count"),
    [
        (NY, utc(2026, 3, 8, 5), 46),  # a 23-hour day
        (NY, utc(2026, 11, 1, 4), 50),  # a 25-hour day: both 01:xx hours
        (BERLIN, utc(2026, 3, 28, 23), 46),
        (BERLIN, utc(2026, 10, 24, 22), 50),
        (LORD_HOWE, utc(2026, 10, 3, 13, 30), 47),  # a 23.5-hour day
        (LORD_HOWE, utc(2026, 4, 4, 13), 49),  # a 24.5-hour day
        ("UTC", utc(2026, 3, 8), 48),
    ],
)
def test_every_30_minutes_follows_real_time_over_a_dst_day(tz: str, day_start: datetime, expected_count: int) -> None:
    spec = build_definition("s", "t", cron="*/30 * * * *", tz=tz, queue="q")
    local = day_start.astimezone(ZoneInfo(tz))
    assert (local.hour, local.minute) == (0, 0)
    day_end = (local.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    day = previous_fires(spec, day_end - timedelta(microseconds=1), day_start - timedelta(microseconds=1))
    assert len(day) == expected_count
    assert day[0] == day_start
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(day))


def test_interval_with_start_at_in_a_dst_zone_keeps_real_time_steps() -> None:
    start = datetime(2026, 3, 28, 12, tzinfo=ZoneInfo(BERLIN))  # 11:00Z, the day before spring-forward
    spec = build_definition("s", "t", every=timedelta(hours=2), start_at=start, queue="q")
    # every 2 h of real time from 11:00Z: ..., 11:00Z, 13:00Z on 03-29
    assert next_fire(spec, utc(2026, 3, 29, 12, 30)) == utc(2026, 3, 29, 13)
    assert previous_fires(spec, utc(2026, 3, 29, 13), utc(2026, 3, 29, 12, 30)) == [utc(2026, 3, 29, 13)]
    # the same definition read back from the schedules bucket (fixed offset) must agree
    stored = ScheduleDefinition.model_validate_json(spec.model_dump_json())
    assert next_fire(stored, utc(2026, 3, 29, 12, 30)) == next_fire(spec, utc(2026, 3, 29, 12, 30))
