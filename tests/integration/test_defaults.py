"""Defaults in code, environment and YAML (the spec's blocks), durations, unknown keys and options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetjobs import App, JobState, current_job
from jetjobs.errors import ConfigError
from tests.helpers import AppFactory, eventually, running_worker
from tests.integration.test_scheduler import running_scheduler

SPEC_YAML = """
retry_policy:
  max_retries: 4
timezone: Europe/Berlin
tasks:
  queues:
    default:
      concurrency: 10
      rate_limit: 100
      retry_policy:
        backoff:
          type: exponential
          initial: 1s
          max: 60s
          multiplier: 2
    reports:
      timezone: America/New_York
scheduler:
  tasks:
    - name: cleanup
      schedule: "0 * * * *"
      timeout: 5m
      retry_policy:
        max_retries: 2
        backoff:
          type: fixed
          initial: 30s
    - name: heartbeat
      schedule: 1s
      timeout: 1h
"""


def _spec_app(tmp_path: Path, **settings: object) -> App:
    path = tmp_path / "jetjobs.yaml"
    path.write_text(SPEC_YAML)
    app = App("svc", config_file=str(path), **settings)

    @app.task
    async def cleanup() -> None: ...

    @app.task(max_retries=9, retry_delay_s=0.5)  # its own options win
    async def heartbeat() -> str:
        return json.dumps(dict(current_job().headers))

    @app.task(queue="reports")
    async def report() -> None: ...

    return app


def test_the_specs_yaml_loads_as_written(tmp_path: Path) -> None:
    app = _spec_app(tmp_path)
    queue = app.queue_config("default")
    assert (queue.concurrency, queue.rate_limit) == (10, 100)
    cleanup = app.tasks["cleanup"].spec.retry
    assert (cleanup.max_retries, cleanup.backoff, cleanup.delay_s, cleanup.max_delay_s, cleanup.factor) == (
        4,  # app-wide
        "exponential",  # the queue's
        1.0,
        60.0,
        2.0,
    )
    assert app.tasks["heartbeat"].spec.retry.max_retries == 9
    assert app.tasks["heartbeat"].spec.retry.delay_s == 0.5
    assert app.tasks["report"].spec.retry.delay_s == 1.0  # reports has no retry_policy: the task default
    assert app.periodic_tasks()["cleanup"]["schedule"] == "cron '0 * * * *' (Europe/Berlin)"  # the app's zone
    cleanup_fires = app.schedules.code["cleanup"]
    assert cleanup_fires.timeout_s == 300
    assert cleanup_fires.retry_policy is not None
    assert json.loads(cleanup_fires.retry_policy) == {"max_attempts": 3, "backoff": "fixed", "initial_s": 30.0}
    assert app.schedules.code["heartbeat"].every_s == 1


def test_time_zone_defaults_per_queue_then_app(tmp_path: Path) -> None:
    app = _spec_app(tmp_path)
    app.register_periodic("report", schedule="0 8 * * *", name="morning")
    app.register_periodic("cleanup", schedule="0 9 * * *", name="nine", tz="UTC")  # its own wins
    app.periodic_tasks()
    assert app.schedules.code["morning"].tz == "America/New_York"
    assert app.schedules.code["nine"].tz == "UTC"


def test_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETJOBS_RETRY_POLICY__BACKOFF__INITIAL", "2s")
    monkeypatch.setenv("JETJOBS_QUEUES__mail__RETRY_POLICY__MAX_RETRIES", "7")
    monkeypatch.setenv("JETJOBS_TIMEZONE", "Asia/Tokyo")
    app = App("env")

    @app.task(queue="mail")
    async def send() -> None: ...

    assert (send.spec.retry.delay_s, send.spec.retry.max_retries) == (2.0, 7)
    assert app.settings.timezone == "Asia/Tokyo"


def test_defaults_in_code_also_apply_to_tasks_declared_before_their_queue() -> None:
    app = App("code", retry_policy={"max_attempts": 2, "backoff": {"type": "linear", "initial": "250ms"}})

    @app.task(queue="media")
    async def transcode() -> None: ...

    assert (transcode.spec.retry.max_retries, transcode.spec.retry.backoff) == (1, "linear")
    app.queue("media", retry_policy={"backoff": {"max": "1h"}}, timezone="Europe/Paris")
    assert (transcode.spec.retry.max_delay_s, transcode.spec.retry.delay_s) == (3600.0, 0.25)


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            "tasks:\n  queues:\n    default:\n      concurency: 10\n",
            "concurency: unknown key; did you mean 'concurrency'?",
        ),
        (
            "tasks:\n  queues:\n    default:\n      retry_policy:\n        backof: {type: fixed}\n",
            "backof: unknown key; did you mean 'backoff'?",
        ),
        (
            "scheduler:\n  tasks:\n    - {name: a, schedule: 1m, timout: 5m}\n",
            "timout: unknown key; did you mean 'timeout'?",
        ),
        ("tasks:\n  queue:\n    default: {}\n", "tasks: unknown key 'queue'; only 'queues' goes there"),
        ("retry_policy:\n  backoff:\n    initial: soon\n", "invalid duration 'soon'"),
        ("timezone: Mars/Olympus\n", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_unknown_keys_and_bad_values_are_errors_with_a_hint(tmp_path: Path, yaml: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        App("bad", config_file=str(path))


@pytest.mark.parametrize(
    ("option", "hint"),
    [
        ("retries", "did you mean max_retries?"),
        ("timeout", "did you mean timeout_s?"),
        ("queue_name", "did you mean 'queue'?"),
        ("max_retry", "did you mean 'max_retries'?"),
        ("bind", "valid options: name, base, queue"),
    ],
)
def test_an_unknown_task_option_names_it_and_the_closest_valid_one(option: str, hint: str) -> None:
    app = App("t")

    async def f() -> None: ...

    with pytest.raises(ConfigError, match=rf"unknown task option '{option}'; {hint}"):
        app.task(**{option: 1})(f)
    with pytest.raises(ConfigError, match=rf"unknown task option '{option}'"):
        app.periodic(every=60, **{option: 1})(f)


async def test_the_specs_yaml_runs(app_factory: AppFactory, tmp_path: Path, jetjobs_server: object) -> None:
    url = jetjobs_server.url  # type: ignore[attr-defined]
    scheduler_app, worker_app = _spec_app(tmp_path, nats_url=url), _spec_app(tmp_path, nats_url=url)
    reader = app_factory(name="reader")
    async with reader, running_worker(worker_app, queues=["default"]), running_scheduler(scheduler_app):
        found: list[str] = []

        async def fired() -> bool:
            async for info in _heartbeats(reader):
                found.append(info)
            return bool(found)

        await eventually(fired, timeout_s=15, every_s=0.3)
    headers = json.loads(found[0])
    assert headers["Jetjobs-Meta-schedule"] == "heartbeat"
    assert headers["Jetjobs-Timeout-S"] == "3600"


async def _heartbeats(app: App):  # type: ignore[no-untyped-def]
    for entry in await app.status_store.kv.items():
        if entry.value and b'"task":"heartbeat"' in entry.value and b'"succeeded"' in entry.value:
            info = json.loads(entry.value)
            if info["state"] == JobState.SUCCEEDED.value:
                yield info["result"]


async def test_an_unknown_enqueue_option_names_it_and_the_closest(tmp_path: Path) -> None:
    app = _spec_app(tmp_path)
    with pytest.raises(ConfigError, match=r"unknown enqueue option 'delay'; did you mean 'delay_s'\?"):
        app.tasks["cleanup"].options(delay=5)
    with pytest.raises(ConfigError, match=r"unknown enqueue option 'timeout'; did you mean timeout_s\?"):
        await app.enqueue("cleanup", timeout=5)
