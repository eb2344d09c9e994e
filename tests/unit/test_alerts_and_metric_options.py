"""Alert decisions, error-rate windows, metric namespace/labels and argument logging, without a server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from jetjobs import App, ConfigError, JobContext
from jetjobs._logging import MASK, redact_secrets
from jetjobs.telemetry import _metrics
from jetjobs.telemetry._alerts import MIN_ATTEMPTS, ErrorRates, crossed
from jetjobs.telemetry._observe import LoggingHooks


@pytest.mark.parametrize(
    ("active", "value", "threshold", "after"),
    [
        (False, 1001, 1000, True),
        (False, 1000, 1000, False),
        (True, 1000, 1000, False),
        (True, 1500, 1000, True),
        (True, None, 0.01, False),
        (False, None, 0.01, False),
        (False, 0.02, 0.01, True),
    ],
)
def test_crossed(active: bool, value: float | None, threshold: float, after: bool) -> None:
    assert crossed(active, value, threshold) is after


def test_error_rates_over_a_sliding_window() -> None:
    now = [0.0]
    rates = ErrorRates({"q": 10.0}, clock=lambda: now[0])
    counts: dict[tuple[str, ...], float] = {}
    assert rates.sample(counts) == {"q": None}
    counts = {("t", "q", "succeeded"): 15.0, ("t", "q", "failed"): 5.0, ("t", "other", "failed"): 99.0}
    now[0] = 5.0
    assert rates.sample(counts) == {"q": 0.25}
    counts[("t", "q", "succeeded")] = 35.0  # 20 more successes, no errors
    now[0] = 16.0  # the first 20 attempts are older than the window now
    assert rates.sample(counts) == {"q": 0.0}
    now[0] = 30.0
    assert rates.sample(counts) == {"q": None}  # fewer than MIN_ATTEMPTS in the window
    assert MIN_ATTEMPTS == 10


@pytest.fixture
def fresh_metrics() -> Iterator[None]:
    yield
    _metrics.configure()


def test_namespace_and_constant_labels(fresh_metrics: None) -> None:
    _metrics.jobs.inc(("t", "ns-test", "succeeded"))
    _metrics.configure("acme_jobs", {"env": "prod", "region": "eu"})
    text = _metrics.render()
    assert 'acme_jobs_jobs_total{task="t",queue="ns-test",outcome="succeeded",env="prod",region="eu"}' in text
    assert "# TYPE acme_jobs_job_duration_seconds histogram" in text
    assert "jetjobs_" not in text
    with pytest.raises(ValueError, match="not a Prometheus label name, or is one jetjobs uses"):
        _metrics.configure("x", {"queue": "a"})


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"metrics_namespace": "my-jobs"}, "metrics_namespace 'my-jobs'"),
        ({"metrics_labels": {"bad-label": "x"}}, "'bad-label' is not a Prometheus label name"),
        ({"queues": {"q": {"alert_error_rate": 2}}}, "less than or equal to 1"),
        ({"queues": {"q": {"alert_backlog": 0}}}, "greater than or equal to 1"),
    ],
)
def test_bad_metric_and_alert_settings_fail_at_once(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        App("x", **overrides)


def test_alert_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETJOBS_QUEUES__EMAILS__ALERT_BACKLOG", "1000")
    monkeypatch.setenv("JETJOBS_QUEUES__EMAILS__ALERT_ERROR_RATE", "0.01")
    monkeypatch.setenv("JETJOBS_METRICS_LABELS", '{"env": "staging"}')
    app = App("x")
    cfg = app.queue_config("emails")
    assert (cfg.alert_backlog, cfg.alert_error_rate, cfg.alert_window_s) == (1000, 0.01, 300.0)
    assert app.settings.metrics_labels == {"env": "staging"}


def test_redact_secrets_masks_secret_looking_keys_at_any_depth() -> None:
    shown = redact_secrets("t", {"args": [{"token": "abc"}], "kwargs": {"to": "a", "smtp_password": "p"}})
    assert shown == {"args": [{"token": MASK}], "kwargs": {"to": "a", "smtp_password": MASK}}


def _job() -> JobContext:
    return JobContext(
        id="j1",
        task="send",
        queue="q",
        priority="normal",
        attempt=1,
        max_attempts=3,
        enqueued_at="",
        args=("a@example.com",),
        kwargs={"api_key": "k", "subject": "hi"},
    )


def test_logging_hooks_leave_arguments_out_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "jetjobs.jobs")
    LoggingHooks().on_cancel(_job(), "void")
    assert "arguments" not in caplog.text
    assert not hasattr(caplog.records[0], "arguments")


def test_logging_hooks_include_redacted_arguments(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "jetjobs.jobs")
    LoggingHooks(include_arguments=True).on_cancel(_job(), "void")
    assert 'arguments={"args": ["a@example.com"], "kwargs": {"api_key": "***", "subject": "hi"}}' in caplog.text
    assert caplog.records[0].arguments == {"args": ["a@example.com"], "kwargs": {"api_key": "***", "subject": "hi"}}

    def only_count(task: str, arguments: Any) -> dict[str, Any]:
        return {"count": len(arguments["args"]) + len(arguments["kwargs"])}

    caplog.clear()
    LoggingHooks(include_arguments=True, redact=only_count).on_cancel(_job(), "void")
    assert 'arguments={"count": 3}' in caplog.text

    def broken(task: str, arguments: Any) -> dict[str, Any]:
        raise RuntimeError("oops")

    caplog.clear()
    LoggingHooks(include_arguments=True, redact=broken).on_cancel(_job(), "void")
    assert "a@example.com" not in caplog.text
    assert "redaction_failed" in caplog.text


def test_app_wires_log_arguments_and_the_redact_hook() -> None:
    def redact(task: str, arguments: Any) -> dict[str, Any]:
        return {}

    app = App("x", log_arguments=True, log_redact=redact)
    hooks = [h for h in app.hooks if isinstance(h, LoggingHooks)]
    assert hooks[0]._include is True
    assert hooks[0]._redact is redact
