"""Fire-time math: pure functions of a definition and the time, tested from tables.

Daylight-saving rules (those of Vixie cron): a wall-clock time skipped by a
spring-forward fires at the first instant after the gap; a wall-clock time that
happens twice on a fall-back day fires once — unless the hour field is ``*``,
in which case the schedule follows real time through the repeated hour.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from croniter import croniter

from ._spec import EPOCH, ScheduleDefinition

MAX_CATCHUP = 100
_MAX_STEPS = 10_000


def next_fire(spec: ScheduleDefinition, after: datetime) -> datetime:
    """The first fire strictly after ``after`` (aware), in UTC."""
    if spec.every_s is not None:
        anchor = (spec.start_at or EPOCH).astimezone(UTC)  # real-time steps, even across DST
        if after < anchor:
            return anchor.astimezone(UTC)
        steps = math.floor((after - anchor).total_seconds() / spec.every_s) + 1
        fire = anchor + timedelta(seconds=steps * spec.every_s)
        return fire.astimezone(UTC) if fire > after else (fire + timedelta(seconds=spec.every_s)).astimezone(UTC)
    return next(_cron_fires(spec, after, forward=True))


def previous_fires(
    spec: ScheduleDefinition, now: datetime, after: datetime | None, limit: int = MAX_CATCHUP
) -> list[datetime]:
    """Fires in (after, now], oldest first; at most the latest ``limit`` of them."""
    found: list[datetime] = []
    for fire in _backwards(spec, now):
        if (after is not None and fire <= after) or len(found) == limit:
            break
        found.append(fire)
    return found[::-1]


def to_publish(spec: ScheduleDefinition, due: list[datetime], now: datetime) -> list[datetime]:
    """Which due fires to publish, by the misfire policy.

    The latest due fire is on time when it is at most ``misfire_grace_s`` late,
    counted from its jittered time; every older one was missed (no scheduler was running).
    """
    if not due:
        return []
    latest = due[-1]
    if spec.misfire == "all":
        return due
    if spec.misfire == "once":
        return [latest]
    on_time = (now - latest).total_seconds() - jitter_offset(spec, latest) <= spec.misfire_grace_s
    return [latest] if on_time else []


def jitter_offset(spec: ScheduleDefinition, fire: datetime) -> float:
    """Seconds to delay ``fire`` by, in [0, jitter_s): the same on every replica."""
    if spec.jitter_s <= 0:
        return 0.0
    digest = hashlib.sha256(f"{spec.name}:{fire.timestamp()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * spec.jitter_s


def fire_job_id(name: str, fire: datetime) -> str:
    """The job id (and Nats-Msg-Id) of a fire: replicas publishing it are deduplicated."""
    return f"{name}-{round(fire.timestamp() * 1000)}"


def _backwards(spec: ScheduleDefinition, now: datetime) -> Iterator[datetime]:
    if spec.every_s is not None:
        anchor = (spec.start_at or EPOCH).astimezone(UTC)  # real-time steps, even across DST
        if now < anchor:
            return
        step = math.floor((now - anchor).total_seconds() / spec.every_s)
        while step >= 0:
            yield (anchor + timedelta(seconds=step * spec.every_s)).astimezone(UTC)
            step -= 1
        return
    # croniter's get_prev is strict: start just after ``now`` so a fire at ``now`` counts.
    yield from _cron_fires(spec, now + timedelta(microseconds=1), forward=False)


def _cron_fires(spec: ScheduleDefinition, start: datetime, *, forward: bool) -> Iterator[datetime]:
    assert spec.cron is not None
    zone = spec.zone
    fields = spec.cron.split()
    hour_field = fields[2] if spec.six_fields else fields[1]
    it = croniter(spec.cron, start.astimezone(zone), second_at_beginning=spec.six_fields)
    for _ in range(_MAX_STEPS):
        local: datetime = it.get_next(datetime) if forward else it.get_prev(datetime)
        if hour_field != "*" and _second_of_repeated_hour(local):
            continue
        fire = local.astimezone(UTC)
        if (fire > start) if forward else (fire < start):
            yield fire


def _second_of_repeated_hour(local: datetime) -> bool:
    """True for the later of two instants that share a wall-clock time (fall-back day)."""
    first = local.replace(tzinfo=None).replace(tzinfo=local.tzinfo, fold=0)
    return first.utcoffset() != local.utcoffset()
