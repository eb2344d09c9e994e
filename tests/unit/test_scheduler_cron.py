"""Cron fire times: 5 and 6 fields, crontab(), strictness and time zones (pure, injected times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jetjobs.scheduler import ScheduleDefinition, build_definition, crontab, next_fire


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def cron(expression: str, tz: str = "UTC") -> ScheduleDefinition:
    return build_definition("s", "t", cron=expression, tz=tz, queue="q")


def fires(spec: ScheduleDefinition, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fires, each computed from the previous one."""
    found: list[datetime] = []
    for _ in range(count):
        after = next_fire(spec, after)
        found.append(after)
    return found


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # weekdays at 08:00, asked on a Friday evening: Monday, then Tuesday
        ("0 8 * * 1-5", utc(2026, 1, 2, 18), [utc(2026, 1, 5, 8), utc(2026, 1, 6, 8)]),
        # Friday 10:15 has passed at 18:00: the weekend is skipped
        ("15 10 * * 1-5", utc(2026, 1, 2, 18), [utc(2026, 1, 5, 10, 15), utc(2026, 1, 6, 10, 15)]),
        ("0 8 * * mon-fri", utc(2026, 1, 3), [utc(2026, 1, 5, 8), utc(2026, 1, 6, 8)]),
        ("*/15 * * * *", utc(2026, 1, 1, 0, 7), [utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30)]),
        # office hours: from the end of one day to the start of the next
        ("*/10 9-17 * * *", utc(2026, 1, 1, 17, 55), [utc(2026, 1, 2, 9), utc(2026, 1, 2, 9, 10)]),
        # 7 is Sunday, as 0 is
        ("0 0 * * 7", utc(2026, 1, 1), [utc(2026, 1, 4), utc(2026, 1, 11)]),
        # quarterly on the 1st
        ("0 9 1 */3 *", utc(2026, 1, 2), [utc(2026, 4, 1, 9), utc(2026, 7, 1, 9), utc(2026, 10, 1, 9)]),
        # month names and day names together: Sundays of January and July only
        ("0 6 * jan,jul sun", utc(2026, 2, 1), [utc(2026, 7, 5, 6), utc(2026, 7, 12, 6)]),
        # day of month AND day of week restricted: either matches (Vixie cron semantics)
        ("0 12 13 * 1", utc(2026, 2, 10), [utc(2026, 2, 13, 12), utc(2026, 2, 16, 12), utc(2026, 2, 23, 12)]),
        # a leap day waits for the next leap year
        ("0 0 29 2 *", utc(2026, 1, 1), [utc(2028, 2, 29), utc(2032, 2, 29)]),
    ],
)
def test_five_field_cron_fires(expression: str, after: datetime, expected: list[datetime]) -> None:
    assert fires(cron(expression), after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # seconds come FIRST: every 15 seconds
        (
            "*/15 * * * * *",
            utc(2026, 1, 1, 0, 0, 7),
            [utc(2026, 1, 1, 0, 0, 15), utc(2026, 1, 1, 0, 0, 30), utc(2026, 1, 1, 0, 0, 45), utc(2026, 1, 1, 0, 1)],
        ),
        # second 0, minute 30, hour 2: daily at 02:30:00 (not minute 0 of 30 o'clock)
        ("0 30 2 * * *", utc(2026, 1, 1, 3), [utc(2026, 1, 2, 2, 30), utc(2026, 1, 3, 2, 30)]),
        ("30 0 8 * * 1-5", utc(2026, 1, 2, 18), [utc(2026, 1, 5, 8, 0, 30), utc(2026, 1, 6, 8, 0, 30)]),
        ("* * * * * *", utc(2026, 1, 1, 23, 59, 58), [utc(2026, 1, 1, 23, 59, 59), utc(2026, 1, 2)]),
    ],
)
def test_six_field_cron_has_seconds_first(expression: str, after: datetime, expected: list[datetime]) -> None:
    assert cron(expression).six_fields
    assert fires(cron(expression), after, len(expected)) == expected


@pytest.mark.parametrize(
    ("keywords", "expression"),
    [
        ({}, "* * * * *"),
        ({"hour": 2, "minute": 0}, "0 2 * * *"),
        ({"minute": "*/15", "day_of_week": "mon-fri"}, "*/15 * * * mon-fri"),
        ({"minute": 30, "hour": 7, "day_of_week": "sun"}, "30 7 * * sun"),
        ({"minute": 0, "hour": 9, "day_of_month": 1, "month_of_year": "*/3"}, "0 9 1 */3 *"),
        (
            {"minute": 5, "hour": "8-18/2", "day_of_month": "1,15", "month_of_year": 6, "day_of_week": 3},
            "5 8-18/2 1,15 6 3",
        ),
    ],
)
def test_crontab_builds_five_field_cron_from_celery_keywords(keywords: dict[str, str | int], expression: str) -> None:
    assert crontab(**keywords) == expression


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        (crontab(hour=2, minute=0), utc(2026, 1, 1, 2), [utc(2026, 1, 2, 2), utc(2026, 1, 3, 2)]),
        (
            crontab(minute="*/15", day_of_week="mon-fri"),
            utc(2026, 1, 2, 23, 50),
            [utc(2026, 1, 5), utc(2026, 1, 5, 0, 15)],
        ),
        (
            crontab(minute=30, hour=7, day_of_week="sun"),
            utc(2026, 1, 1),
            [utc(2026, 1, 4, 7, 30), utc(2026, 1, 11, 7, 30)],
        ),
    ],
)
def test_crontab_expressions_fire_as_expected(expression: str, after: datetime, expected: list[datetime]) -> None:
    assert fires(cron(expression), after, len(expected)) == expected


@pytest.mark.parametrize(
    ("spec", "fire", "following"),
    [
        (cron("0 8 * * *"), utc(2026, 1, 1, 8), utc(2026, 1, 2, 8)),
        (cron("0 8 * * 1-5"), utc(2026, 1, 2, 8), utc(2026, 1, 5, 8)),
        (cron("*/15 * * * * *"), utc(2026, 1, 1, 0, 0, 15), utc(2026, 1, 1, 0, 0, 30)),
        (cron("0 9 * * *", "Asia/Kolkata"), utc(2026, 1, 1, 3, 30), utc(2026, 1, 2, 3, 30)),
        (build_definition("s", "t", every=60, queue="q"), utc(2026, 1, 1, 0, 1), utc(2026, 1, 1, 0, 2)),
    ],
)
def test_next_fire_is_strictly_after(spec: ScheduleDefinition, fire: datetime, following: datetime) -> None:
    assert next_fire(spec, fire - timedelta(microseconds=1)) == fire
    assert next_fire(spec, fire) == following  # a fire exactly at `after` is not returned
    assert next_fire(spec, fire + timedelta(microseconds=1)) == following


ZONES_AT_0900 = [
    # zone, 09:00 local in January (as UTC), 09:00 local in July (as UTC)
    ("UTC", utc(2026, 1, 15, 9), utc(2026, 7, 15, 9)),
    ("Europe/Berlin", utc(2026, 1, 15, 8), utc(2026, 7, 15, 7)),  # +01:00 / +02:00
    ("America/New_York", utc(2026, 1, 15, 14), utc(2026, 7, 15, 13)),  # -05:00 / -04:00
    ("Asia/Kolkata", utc(2026, 1, 15, 3, 30), utc(2026, 7, 15, 3, 30)),  # +05:30 all year
    # +11:00 in the southern summer, +10:30 in winter; 09:00 on the 15th is past, so the 16th
    ("Australia/Lord_Howe", utc(2026, 1, 15, 22), utc(2026, 7, 15, 22, 30)),
]


@pytest.mark.parametrize(("tz", "january", "july"), ZONES_AT_0900)
def test_same_cron_in_different_zones_gives_the_expected_utc_instant(
    tz: str, january: datetime, july: datetime
) -> None:
    spec = cron("0 9 * * *", tz)
    assert next_fire(spec, utc(2026, 1, 15)) == january
    assert next_fire(spec, utc(2026, 7, 15)) == july


@pytest.mark.parametrize(("tz", "january", "july"), ZONES_AT_0900)
def test_after_given_in_any_zone_means_the_same_instant(tz: str, january: datetime, july: datetime) -> None:
    spec = cron("0 9 * * *", tz)
    for zone in ("Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"):
        assert next_fire(spec, utc(2026, 1, 15).astimezone(ZoneInfo(zone))) == january
        assert next_fire(spec, utc(2026, 7, 15).astimezone(ZoneInfo(zone))) == july


@pytest.mark.parametrize(
    "spec",
    [
        cron("0 9 * * *", "Asia/Kolkata"),
        cron("*/30 * * * *", "Australia/Lord_Howe"),
        cron("0 30 2 * * *", "America/New_York"),
        build_definition("s", "t", every=90, queue="q"),
        build_definition("s", "t", every=90, start_at=datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Kolkata")), queue="q"),
    ],
)
def test_results_are_always_aware_and_in_utc(spec: ScheduleDefinition) -> None:
    after = datetime(2025, 12, 31, 12, tzinfo=ZoneInfo("America/New_York"))
    for fire in fires(spec, after, 50):
        assert fire.tzinfo is UTC
        assert fire.utcoffset() == timedelta(0)
