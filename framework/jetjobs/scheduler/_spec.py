"""What a periodic schedule is: a validated, JSON-serialisable definition.

Definitions declared in code and those added at runtime (stored in the
schedules KV bucket) are the same model, so every scheduler replica computes
the same fire times from them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._names import Priority
from ..errors import ConfigError

Misfire = Literal["skip", "once", "all"]
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def crontab(
    minute: str | int = "*",
    hour: str | int = "*",
    day_of_week: str | int = "*",
    day_of_month: str | int = "*",
    month_of_year: str | int = "*",
) -> str:
    """A 5-field cron expression from Celery-style keywords.

    >>> crontab(hour=2, minute=0)
    '0 2 * * *'
    >>> crontab(minute="*/15", day_of_week="mon-fri")
    '*/15 * * * mon-fri'
    """
    return f"{minute} {hour} {day_of_month} {month_of_year} {day_of_week}"


class ScheduleDefinition(BaseModel):
    """One periodic schedule.

    Exactly one of ``cron`` (5 fields, or 6 with seconds first, as NATS and
    Quartz use) and ``every_s`` (an interval of at least 1 s, anchored at
    ``start_at`` or the Unix epoch so every replica agrees) is set. ``tz`` is an
    IANA zone for cron schedules. ``misfire`` says what happens to fires missed
    while no scheduler ran: ``skip`` them, run ``once``, or run ``all`` (at most 100).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    task: str
    queue: str | None = None
    priority: Priority | None = None
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    cron: str | None = None
    every_s: float | None = Field(None, ge=1, allow_inf_nan=False)
    start_at: datetime | None = None
    tz: str = "UTC"
    jitter_s: float = Field(0.0, ge=0, allow_inf_nan=False)
    exclusive: bool = False
    misfire: Misfire = "skip"
    misfire_grace_s: float = Field(60.0, ge=0, allow_inf_nan=False)
    timeout_s: float | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0)
    retry_policy: str | None = Field(None, description="each fire's own retry policy (Jetjobs-Retry-Policy JSON)")
    paused: bool = False
    source: Literal["code", "dynamic"] = "dynamic"
    owner: str | None = Field(None, description="the app that declares a code schedule")

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _NAME_RE.fullmatch(name) or len(name) > 128:
            raise ValueError("use letters, digits, '_', '-' and single dots (max 128)")
        return name

    @field_validator("tz")
    @classmethod
    def _check_tz(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Berlin'") from None
        return tz

    @field_validator("start_at")
    @classmethod
    def _check_start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("start_at needs a time zone (e.g. 2026-01-01T00:00:00+00:00)")
        return value

    @model_validator(mode="after")
    def _check_schedule(self) -> ScheduleDefinition:
        if (self.cron is None) == (self.every_s is None):
            raise ValueError("give exactly one of cron=... or every=...")
        if self.cron is not None:
            check_cron(self.cron)
        return self

    @property
    def six_fields(self) -> bool:
        return self.cron is not None and len(self.cron.split()) == 6

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron '{self.cron}' ({self.tz})"
        return f"every {timedelta(seconds=self.every_s or 0)}"


def check_cron(expression: str) -> str:
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"cron {expression!r} must have 5 fields (or 6 with seconds first)")
    if not croniter.is_valid(expression, second_at_beginning=len(fields) == 6):
        raise ValueError(f"invalid cron expression {expression!r}")
    try:  # e.g. "0 0 31 2 *" is well-formed but can never fire
        croniter(expression, EPOCH, second_at_beginning=len(fields) == 6).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {expression!r} never fires") from None
    return expression


def build_definition(
    name: str,
    task: str,
    *,
    cron: str | None = None,
    every: timedelta | float | None = None,
    schedule: str | timedelta | None = None,
    **fields: Any,
) -> ScheduleDefinition:
    """Validate a schedule now (at definition time, not at 2 a.m.); raise ConfigError."""
    if schedule is not None:
        if cron is not None or every is not None:
            raise ConfigError(f"schedule {name!r}: give schedule=, cron= or every=, not several")
        if isinstance(schedule, timedelta):
            every = schedule
        else:
            cron = schedule
    every_s = every.total_seconds() if isinstance(every, timedelta) else every
    try:
        return ScheduleDefinition(name=name, task=task, cron=cron, every_s=every_s, **fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'schedule'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"schedule {name!r}: {problems}") from None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
