"""Schedules are validated at definition time (ConfigError naming the problem), and parse_duration."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jetjobs.cli._schedules import parse_duration
from jetjobs.errors import ConfigError
from jetjobs.scheduler import ScheduleDefinition, build_definition

NAIVE = datetime(2026, 1, 1)  # naive on purpose

INVALID = [
    # bad cron
    ("cron-61-minutes", {"cron": "61 * * * *"}, "invalid cron expression '61 \\* \\* \\* \\*'"),
    ("cron-25-hours", {"cron": "0 25 * * *"}, "invalid cron expression"),
    ("cron-60-seconds", {"cron": "60 * * * * *"}, "invalid cron expression"),
    ("cron-step-0", {"cron": "*/0 * * * *"}, "invalid cron expression"),
    ("cron-4-fields", {"cron": "* * * *"}, "must have 5 fields \\(or 6 with seconds first\\)"),
    ("cron-7-fields", {"cron": "0 0 8 * * * 2026"}, "must have 5 fields"),
    ("cron-garbage", {"cron": "garbage"}, "must have 5 fields"),
    ("cron-five-words", {"cron": "every day at eight am"}, "invalid cron expression"),
    ("cron-empty", {"cron": ""}, "must have 5 fields"),
    ("schedule-bad-cron", {"schedule": "61 * * * *"}, "invalid cron expression"),
    # zones
    ("unknown-zone", {"cron": "0 8 * * *", "tz": "Mars/Olympus"}, "tz: unknown time zone 'Mars/Olympus'"),
    ("offset-not-zone", {"cron": "0 8 * * *", "tz": "+02:00"}, "tz: unknown time zone '\\+02:00'; use an IANA name"),
    ("utc-plus-offset", {"cron": "0 8 * * *", "tz": "UTC+2"}, "tz: unknown time zone"),
    ("empty-zone", {"cron": "0 8 * * *", "tz": ""}, "tz: unknown time zone"),
    ("zone-path", {"cron": "0 8 * * *", "tz": "../etc/passwd"}, "tz: unknown time zone"),
    # one of cron and every
    ("cron-and-every", {"cron": "0 8 * * *", "every": 60}, "give exactly one of cron=... or every=..."),
    ("neither", {}, "give exactly one of cron=... or every=..."),
    (
        "schedule-and-cron",
        {"schedule": "0 8 * * *", "cron": "0 8 * * *"},
        "give schedule=, cron= or every=, not several",
    ),
    ("schedule-and-every", {"schedule": timedelta(minutes=5), "every": 60}, "not several"),
    # intervals of at least 1 s
    ("every-half-second", {"every": 0.5}, "every_s: Input should be greater than or equal to 1"),
    ("every-999ms", {"every": timedelta(milliseconds=999)}, "every_s"),
    ("every-zero", {"every": 0}, "every_s"),
    ("every-negative", {"every": timedelta(minutes=-5)}, "every_s"),
    ("every-nan", {"every": math.nan}, "every_s"),
    ("schedule-below-1s", {"schedule": timedelta(milliseconds=100)}, "every_s"),
    ("naive-start-at", {"every": 60, "start_at": NAIVE}, "start_at: start_at needs a time zone"),
    # names
    ("name-with-space", {"name": "daily report", "every": 60}, "name: use letters, digits"),
    ("name-double-dot", {"name": "a..b", "every": 60}, "name: use letters, digits, '_', '-' and single dots"),
    ("name-leading-dot", {"name": ".a", "every": 60}, "name:"),
    ("name-trailing-dot", {"name": "a.", "every": 60}, "name:"),
    ("name-slash", {"name": "a/b", "every": 60}, "name:"),
    ("name-too-long", {"name": "n" * 129, "every": 60}, "max 128"),
    # other fields
    ("negative-jitter", {"every": 60, "jitter_s": -1}, "jitter_s: Input should be greater than or equal to 0"),
    ("misfire-not-in-enum", {"every": 60, "misfire": "never"}, "misfire: Input should be 'skip', 'once' or 'all'"),
    ("negative-grace", {"every": 60, "misfire_grace_s": -1}, "misfire_grace_s"),
    ("zero-timeout", {"every": 60, "timeout_s": 0}, "timeout_s"),
    ("negative-retries", {"every": 60, "max_retries": -1}, "max_retries"),
    ("bad-priority", {"every": 60, "priority": "urgent"}, "priority"),
    ("unknown-field", {"every": 60, "colour": "red"}, "colour: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("fields", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_build_definition_rejects_with_config_error_naming_the_problem(fields: dict[str, Any], message: str) -> None:
    name = fields.pop("name", "nightly")
    with pytest.raises(ConfigError, match=f"^schedule {name!r}: .*{message}"):
        build_definition(name, "t", queue="q", **fields)


@pytest.mark.parametrize(
    ("fields", "cron", "every_s"),
    [
        ({"schedule": "*/5 * * * *"}, "*/5 * * * *", None),
        ({"schedule": "*/15 * * * * *"}, "*/15 * * * * *", None),
        ({"schedule": timedelta(minutes=5)}, None, 300.0),
        ({"schedule": timedelta(seconds=1.5)}, None, 1.5),
        ({"cron": "0 8 * * 1-5"}, "0 8 * * 1-5", None),
        ({"every": timedelta(hours=1)}, None, 3600.0),
        ({"every": 90}, None, 90.0),
        ({"every": 1}, None, 1.0),
    ],
)
def test_schedule_maps_to_cron_or_every_s(fields: dict[str, Any], cron: str | None, every_s: float | None) -> None:
    definition = build_definition("nightly", "t", queue="q", **fields)
    assert (definition.cron, definition.every_s) == (cron, every_s)


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"cron": "0 8 * * 1-5", "tz": "America/New_York"}, "cron '0 8 * * 1-5' (America/New_York)"),
        ({"cron": "0 8 * * *"}, "cron '0 8 * * *' (UTC)"),
        ({"every": timedelta(minutes=5)}, "every 0:05:00"),
        ({"every": 1.5}, "every 0:00:01.500000"),
    ],
)
def test_describe(fields: dict[str, Any], description: str) -> None:
    assert build_definition("nightly", "t", queue="q", **fields).describe() == description


@pytest.mark.parametrize(
    "fields",
    [
        {"cron": "0 8 * * mon-fri", "tz": "Australia/Lord_Howe", "jitter_s": 30, "misfire": "all"},
        {"every": 1.5, "start_at": datetime(2026, 1, 1, tzinfo=UTC), "misfire": "once", "misfire_grace_s": 0},
        {"schedule": "0 30 2 * * *", "tz": "Asia/Kolkata", "exclusive": True, "priority": "high", "max_retries": 0},
    ],
)
def test_valid_definitions_survive_the_json_round_trip_of_the_bucket(fields: dict[str, Any]) -> None:
    definition = build_definition("nightly", "t", queue="q", args=[1, "x"], kwargs={"k": [1]}, **fields)
    assert ScheduleDefinition.model_validate_json(definition.model_dump_json()) == definition


@pytest.mark.parametrize("fields", [{"every": math.inf}, {"every": 60, "jitter_s": math.inf}])
def test_infinite_interval_or_jitter_is_rejected_at_definition_time(fields: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        build_definition("nightly", "t", queue="q", **fields)


# -- parse_duration (jetjobs schedules add --every) ---------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("90s", timedelta(seconds=90)),
        ("1.5", timedelta(seconds=1.5)),
        ("1.5s", timedelta(seconds=1.5)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("0.5h", timedelta(minutes=30)),
        (" 5m ", timedelta(minutes=5)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", " ", "5x", "m", "1h-2m", "-5m", "5 m", "1m1h", "h1", "1.5.2s", "5ms", "1e3"])
def test_parse_duration_rejects_with_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration(text)
