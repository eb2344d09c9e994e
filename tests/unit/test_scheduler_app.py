"""Declaring schedules in code: @app.periodic, register_periodic, bulk_register_periodic (no server)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jetjobs import App
from jetjobs.errors import ConfigError
from jetjobs.scheduler import crontab


@pytest.fixture
def app() -> App:
    return App("unit", nats_url="nats://127.0.0.1:1")  # does not connect


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_periodic_registers_a_task_and_a_schedule_named_after_the_function(app: App) -> None:
    @app.periodic(every=timedelta(seconds=5), queue="q")
    def heartbeat() -> None: ...

    assert app.tasks["heartbeat"] is heartbeat
    assert heartbeat.spec.queue == "q"
    definition = app.schedules.code["heartbeat"]
    assert (definition.name, definition.task, definition.queue, definition.every_s) == (
        "heartbeat",
        "heartbeat",
        "q",
        5,
    )
    assert (definition.source, definition.owner) == ("code", "unit")


def test_periodic_tasks_describes_each_code_schedule(app: App) -> None:
    @app.periodic(every=timedelta(seconds=5), queue="q")
    def heartbeat() -> None: ...

    @app.periodic(cron="0 8 * * 1-5", tz="America/New_York", name="weekday-report", args=["daily"])
    def report(kind: str) -> None: ...

    before = datetime.now(UTC)
    described = app.periodic_tasks()
    assert sorted(described) == ["heartbeat", "weekday-report"]
    heartbeat_info = described["heartbeat"]
    assert {k: v for k, v in heartbeat_info.items() if k != "next_fire"} == {
        "task": "heartbeat",
        "schedule": "every 0:00:05",
        "args": [],
        "kwargs": {},
        "queue": "q",
    }
    assert before < heartbeat_info["next_fire"] <= before + timedelta(seconds=5)
    assert heartbeat_info["next_fire"].tzinfo is UTC
    report_info = described["weekday-report"]
    assert report_info["task"] == "report"
    assert report_info["schedule"] == "cron '0 8 * * 1-5' (America/New_York)"
    assert report_info["queue"] == "default"
    # arguments are checked against the signature and stored as they travel on the wire
    assert (report_info["args"], report_info["kwargs"]) == ([], {"kind": "daily"})
    assert before < report_info["next_fire"] <= before + timedelta(days=4)


def test_describe_at_an_injected_time(app: App) -> None:
    app.register_periodic("other.cleanup", schedule=crontab(hour=2, minute=0), queue="maintenance")
    described = app.schedules.describe(utc(2026, 1, 1, 3))
    assert described["other.cleanup"]["next_fire"] == utc(2026, 1, 2, 2)


def test_periodic_splits_schedule_options_from_task_options(app: App) -> None:
    @app.periodic(
        cron="0 8 * * 1-5",
        tz="America/New_York",
        jitter_s=30,
        exclusive=True,
        misfire="once",
        misfire_grace_s=5,
        max_retries=1,
        priority="high",
        timeout_s=9,
        queue="reports",
        retry_delay_s=2.0,
    )
    def report() -> None: ...

    definition = app.schedules.code["report"]
    assert (definition.tz, definition.jitter_s, definition.exclusive) == ("America/New_York", 30, True)
    assert (definition.misfire, definition.misfire_grace_s) == ("once", 5)
    assert (definition.max_retries, definition.priority, definition.timeout_s) == (1, "high", 9)
    assert definition.queue == "reports"
    assert (report.spec.queue, report.spec.timeout_s, report.spec.retry.delay_s) == ("reports", 9, 2.0)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"cron": "61 * * * *"}, "invalid cron expression"),
        ({"cron": "0 8 * * *", "tz": "Mars/Olympus"}, "unknown time zone"),
        ({"cron": "0 8 * * *", "tz": "+02:00"}, "unknown time zone"),
        ({"every": 0.5}, "every_s"),
        ({}, "give exactly one of cron=... or every=..."),
        ({"cron": "0 8 * * *", "every": 60}, "give exactly one"),
        ({"every": 60, "misfire": "later"}, "misfire"),
        ({"every": 60, "jitter_s": -5}, "jitter_s"),
        ({"every": 60, "name": "bad name"}, "name"),
        ({"every": 60, "start_at": datetime(2026, 1, 1)}, "start_at needs a time zone"),  # naive on purpose
        ({"every": 60, "args": [1]}, "too many positional arguments"),
    ],
)
def test_periodic_rejects_a_bad_schedule_at_decoration_time(app: App, schedule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):

        @app.periodic(**schedule)
        def job() -> None: ...


def test_a_rejected_periodic_leaves_nothing_registered(app: App) -> None:
    with pytest.raises(ConfigError):

        @app.periodic(cron="61 * * * *")
        def job() -> None: ...

    assert "job" not in app.tasks


@pytest.mark.parametrize(
    ("schedule", "cron", "every_s"),
    [
        (crontab(hour=2, minute=0), "0 2 * * *", None),
        ("*/15 * * * * *", "*/15 * * * * *", None),
        (timedelta(minutes=5), None, 300.0),
    ],
)
def test_register_periodic_for_a_registered_task_inherits_its_queue(
    app: App, schedule: str | timedelta, cron: str | None, every_s: float | None
) -> None:
    @app.task(queue="maintenance")
    def cleanup(mode: str, days: int = 7) -> None: ...

    app.register_periodic("cleanup", schedule=schedule, args=["full"], kwargs={"days": 3})
    definition = app.schedules.code["cleanup"]
    assert (definition.cron, definition.every_s, definition.queue) == (cron, every_s, "maintenance")
    assert (definition.args, definition.kwargs) == ([], {"mode": "full", "days": 3})
    app.register_periodic("cleanup", name="cleanup-elsewhere", schedule=schedule, args=["x"], queue="other")
    assert app.schedules.code["cleanup-elsewhere"].queue == "other"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"args": []}, "missing a required argument: 'mode'"),
        ({"args": ["full", 3, "extra"]}, "too many positional arguments"),
        ({"args": ["full"], "kwargs": {"days": "many"}}, "argument 'days'"),
        ({"args": ["full"], "kwargs": {"weeks": 1}}, "weeks"),
    ],
)
def test_register_periodic_checks_args_against_the_task_signature(app: App, call: dict[str, Any], message: str) -> None:
    @app.task(queue="maintenance")
    def cleanup(mode: str, days: int = 7) -> None: ...

    with pytest.raises(ConfigError, match=f"^schedule 'cleanup': .*{message}"):
        app.register_periodic("cleanup", schedule="0 2 * * *", **call)
    assert "cleanup" not in app.schedules.code


def test_register_periodic_for_a_task_of_another_service_needs_a_queue(app: App) -> None:
    with pytest.raises(
        ConfigError, match=re.escape("task 'reports.daily_cleanup' is not registered here; give queue=")
    ):
        app.register_periodic("reports.daily_cleanup", schedule=crontab(hour=2, minute=0))
    app.register_periodic("reports.daily_cleanup", schedule=crontab(hour=2, minute=0), queue="maint", args=[{"a": 1}])
    definition = app.schedules.code["reports.daily_cleanup"]
    assert (definition.queue, definition.args, definition.cron) == ("maint", [{"a": 1}], "0 2 * * *")


def test_register_periodic_rejects_arguments_that_are_not_json(app: App) -> None:
    with pytest.raises(ConfigError, match="arguments are not JSON"):
        app.register_periodic("remote.task", schedule="0 2 * * *", queue="q", args=[object()])


def test_bulk_register_periodic_shares_the_queue(app: App) -> None:
    app.bulk_register_periodic(
        [
            ("monitoring.ping", "*/5 * * * *", [1]),
            ("monitoring.health", timedelta(hours=1), ["x", 2]),
            ("monitoring.sweep", crontab(minute=0, hour="*/6"), []),
        ],
        queue="shared",
        misfire="once",
    )
    code = app.schedules.code
    assert sorted(code) == ["monitoring.health", "monitoring.ping", "monitoring.sweep"]
    assert {d.queue for d in code.values()} == {"shared"}
    assert {d.misfire for d in code.values()} == {"once"}
    assert (code["monitoring.ping"].cron, code["monitoring.ping"].args) == ("*/5 * * * *", [1])
    assert (code["monitoring.health"].every_s, code["monitoring.health"].args) == (3600.0, ["x", 2])
    assert (code["monitoring.sweep"].cron, code["monitoring.sweep"].args) == ("0 */6 * * *", [])


def test_bulk_register_periodic_validates_every_entry(app: App) -> None:
    with pytest.raises(ConfigError, match="invalid cron expression"):
        app.bulk_register_periodic([("a.ok", "0 * * * *", []), ("a.bad", "0 99 * * *", [])], queue="q")


@pytest.mark.parametrize(
    "declare_twice",
    [
        lambda app: app.register_periodic("x.task", schedule="0 2 * * *", queue="q"),
        lambda app: app.register_periodic("other.task", name="x.task", schedule=timedelta(minutes=1), queue="q"),
        lambda app: app.bulk_register_periodic([("x.task", "0 3 * * *", [])], queue="q"),
    ],
)
def test_declaring_the_same_schedule_name_twice_is_rejected(app: App, declare_twice: Any) -> None:
    app.register_periodic("x.task", schedule="0 1 * * *", queue="q")
    with pytest.raises(ConfigError, match=re.escape("schedule 'x.task' is declared twice in app 'unit'")):
        declare_twice(app)
    assert app.schedules.code["x.task"].cron == "0 1 * * *"


def test_periodic_with_an_explicit_name_can_share_a_task_with_another_schedule(app: App) -> None:
    @app.periodic(every=60, queue="q")
    def ping() -> None: ...

    app.register_periodic("ping", name="ping-nightly", schedule="0 0 * * *")
    with pytest.raises(ConfigError, match="schedule 'ping' is declared twice"):
        app.register_periodic("ping", schedule="0 1 * * *")
    assert sorted(app.periodic_tasks()) == ["ping", "ping-nightly"]
    assert app.schedules.code["ping-nightly"].queue == "q"


def test_schedule_priority_and_retries_must_fit_the_queue() -> None:
    from jetjobs import App, ConfigError

    app = App("fit", nats_url="nats://127.0.0.1:1", queues={"q": {"priorities": ["normal"], "max_deliveries": 10}})
    with pytest.raises(ConfigError, match="has no 'high' priority"):
        app.register_periodic("t", schedule="0 * * * *", queue="q", priority="high")
    with pytest.raises(ConfigError, match="max_retries=20 does not fit"):
        app.register_periodic("t", schedule="0 * * * *", queue="q", max_retries=20)
    app.register_periodic("t", schedule="0 * * * *", queue="q", max_retries=3)
