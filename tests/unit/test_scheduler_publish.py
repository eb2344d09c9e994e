"""What a scheduler publishes for due fires: misfire policies, jitter and job ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jetjobs._names import is_valid_job_id
from jetjobs.scheduler import ScheduleDefinition, build_definition, fire_job_id, jitter_offset, to_publish


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def spec(**fields: object) -> ScheduleDefinition:
    return build_definition("nightly", "t", cron="*/30 * * * * *", queue="q", **fields)


NOW = utc(2026, 1, 1, 12)
ON_TIME = utc(2026, 1, 1, 11, 59, 30)  # 30 s old: within the default 60 s grace
MISSED = [utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 30), utc(2026, 1, 1, 11)]

DUE = {
    "nothing-due": [],
    "one-on-time": [ON_TIME],
    "missed-then-on-time": [*MISSED, ON_TIME],
    "all-missed": MISSED,
}
EXPECTED = {
    ("skip", "nothing-due"): [],
    ("skip", "one-on-time"): [ON_TIME],
    ("skip", "missed-then-on-time"): [ON_TIME],
    ("skip", "all-missed"): [],
    ("once", "nothing-due"): [],
    ("once", "one-on-time"): [ON_TIME],
    ("once", "missed-then-on-time"): [ON_TIME],
    ("once", "all-missed"): [utc(2026, 1, 1, 11)],
    ("all", "nothing-due"): [],
    ("all", "one-on-time"): [ON_TIME],
    ("all", "missed-then-on-time"): [*MISSED, ON_TIME],
    ("all", "all-missed"): MISSED,
}


@pytest.mark.parametrize(("misfire", "situation"), sorted(EXPECTED), ids=["-".join(k) for k in sorted(EXPECTED)])
def test_to_publish_by_misfire_policy(misfire: str, situation: str) -> None:
    assert to_publish(spec(misfire=misfire), list(DUE[situation]), NOW) == EXPECTED[misfire, situation]


@pytest.mark.parametrize(
    ("grace_s", "age_s", "published"),
    [
        (60, 0, True),
        (60, 60, True),  # exactly the grace old: still on time
        (60, 60.001, False),
        (0, 0, True),
        (0, 0.001, False),
        (3600, 3599, True),
        (3600, 3601, False),
    ],
)
def test_skip_publishes_the_latest_fire_only_within_the_grace(grace_s: float, age_s: float, published: bool) -> None:
    latest = NOW - timedelta(seconds=age_s)
    due = [latest - timedelta(hours=1), latest]
    expected = [latest] if published else []
    assert to_publish(spec(misfire="skip", misfire_grace_s=grace_s), due, NOW) == expected


def test_default_misfire_policy_is_skip_with_60s_grace() -> None:
    default = spec()
    assert (default.misfire, default.misfire_grace_s) == ("skip", 60.0)
    assert to_publish(default, MISSED, NOW) == []


# -- jitter ------------------------------------------------------------------------------

FIRES = [utc(2026, 1, 1) + timedelta(seconds=30 * i) for i in range(1000)]


@pytest.mark.parametrize("fire", FIRES[:5])
def test_no_jitter_by_default(fire: datetime) -> None:
    assert jitter_offset(spec(), fire) == 0.0
    assert jitter_offset(spec(jitter_s=0), fire) == 0.0


@pytest.mark.parametrize("jitter_s", [0.5, 1, 30, 3600])
def test_jitter_is_within_zero_and_jitter_s(jitter_s: float) -> None:
    definition = spec(jitter_s=jitter_s)
    offsets = [jitter_offset(definition, fire) for fire in FIRES]
    assert all(0 <= offset < jitter_s for offset in offsets)


@pytest.mark.parametrize("jitter_s", [1, 30])
def test_jitter_spreads_fires_over_the_range(jitter_s: float) -> None:
    definition = spec(jitter_s=jitter_s)
    offsets = [jitter_offset(definition, fire) for fire in FIRES]
    assert len({int(offset / jitter_s * 5) for offset in offsets}) >= 4
    assert len(set(offsets)) > 990


def test_jitter_is_the_same_on_every_replica() -> None:
    replica_a = spec(jitter_s=30)
    replica_b = ScheduleDefinition.model_validate_json(replica_a.model_dump_json())  # read from the bucket
    for fire in FIRES[:50]:
        offset = jitter_offset(replica_a, fire)
        assert jitter_offset(replica_a, fire) == offset
        assert jitter_offset(replica_b, fire) == offset
        assert jitter_offset(replica_a, fire.astimezone(ZoneInfo("Asia/Kolkata"))) == offset


def test_jitter_depends_on_the_schedule_name() -> None:
    other = build_definition("hourly", "t", cron="*/30 * * * * *", queue="q", jitter_s=30)
    mine = spec(jitter_s=30)
    assert sum(jitter_offset(mine, f) != jitter_offset(other, f) for f in FIRES[:100]) > 95


# -- job ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fire", "job_id"),
    [
        ("nightly", utc(2026, 1, 1), "nightly-1767225600000"),
        ("nightly", utc(2026, 1, 1, 0, 0, 1, 500000), "nightly-1767225601500"),
        ("reports.daily_cleanup", utc(1970, 1, 1, 0, 0, 1), "reports.daily_cleanup-1000"),
        ("a-b_c", datetime(2026, 1, 1, 5, 30, tzinfo=ZoneInfo("Asia/Kolkata")), "a-b_c-1767225600000"),
    ],
)
def test_fire_job_id_is_name_and_epoch_milliseconds(name: str, fire: datetime, job_id: str) -> None:
    assert fire_job_id(name, fire) == job_id
    assert is_valid_job_id(job_id)


def test_fire_job_ids_are_distinct_per_fire_and_stable_per_fire() -> None:
    fires = [*FIRES, *(utc(2026, 1, 1, 0, 0, 1) + timedelta(milliseconds=ms) for ms in range(1, 100))]
    ids = [fire_job_id("nightly", f) for f in fires]
    assert len(set(ids)) == len(fires)
    assert ids == [fire_job_id("nightly", f) for f in fires]
    assert ids[:10] == [fire_job_id("nightly", f.astimezone(ZoneInfo("America/New_York"))) for f in fires[:10]]
    assert fire_job_id("nightly", FIRES[0]) != fire_job_id("hourly", FIRES[0])


@pytest.mark.parametrize("name", ["x", "a.b.c", "A-Z_0-9", "n" * 128])
def test_fire_job_id_is_a_valid_job_id_for_every_valid_schedule_name(name: str) -> None:
    build_definition(name, "t", every=60, queue="q")  # the name is a valid schedule name
    for fire in FIRES[:20]:
        assert is_valid_job_id(fire_job_id(name, fire))


def test_grace_is_counted_from_the_jittered_time() -> None:
    from datetime import UTC, datetime, timedelta

    from jetjobs.scheduler import build_definition, jitter_offset, to_publish

    spec = build_definition("hourly", "t", cron="0 * * * *", jitter_s=600, misfire_grace_s=60, queue="q")
    fire = datetime(2026, 1, 1, 10, tzinfo=UTC)
    jittered = fire + timedelta(seconds=jitter_offset(spec, fire))
    assert to_publish(spec, [fire], jittered + timedelta(seconds=30)) == [fire]
    assert to_publish(spec, [fire], jittered + timedelta(seconds=90)) == []
