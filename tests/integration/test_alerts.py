"""Queue alerts evaluated by a worker: enter and leave as the backlog or the error rate crosses its threshold."""

from __future__ import annotations

import asyncio
import logging

import pytest

from jetjobs import App
from jetjobs.telemetry import AlertEvent, metrics
from tests.helpers import AppFactory, eventually, running_worker


async def test_backlog_alert_enters_and_leaves(app_factory: AppFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "jetjobs.alerts")
    gate = asyncio.Event()
    events: list[AlertEvent] = []

    def register(app: App) -> None:
        app.queue("piling", concurrency=1, alert_backlog=5)

        @app.task(queue="piling")
        async def slow() -> None:
            await gate.wait()

    producer = app_factory(register, name="producer")
    worker_app = app_factory(register, name="worker", alert_interval_s=0.2)
    worker_app.on_alert(events.append)
    async with producer, running_worker(worker_app):
        await producer.enqueue_many(producer.tasks["slow"].call() for _ in range(8))
        await eventually(lambda: len(events) == 1, timeout_s=10)
        entered = events[0]
        assert (entered.queue, entered.alert, entered.active, entered.threshold) == ("piling", "backlog", True, 5.0)
        assert entered.value > 5
        assert metrics.alert_active.read()[("piling", "backlog")] == 1.0
        assert "alert backlog entered on queue piling" in caplog.text
        gate.set()  # the backlog drains
        await eventually(lambda: len(events) == 2, timeout_s=10)
        left = events[1]
        assert (left.active, left.value) == (False, 0.0)
        assert metrics.alert_active.read()[("piling", "backlog")] == 0.0
        assert "alert backlog left on queue piling" in caplog.text
    assert ("piling", "backlog") not in metrics.alert_active.read()  # the worker stopped: no source


async def test_error_rate_alert_calls_async_handlers(app_factory: AppFactory) -> None:
    events: list[AlertEvent] = []

    async def record(event: AlertEvent) -> None:
        events.append(event)

    def broken(event: AlertEvent) -> None:
        raise RuntimeError("a failing handler is only logged")

    def register(app: App) -> None:
        app.queue("flaky", alert_error_rate=0.5, alert_window_s=60)

        @app.task(queue="flaky", max_retries=0)
        async def work(fail: bool) -> None:
            if fail:
                raise ValueError("boom")

    producer = app_factory(register, name="producer")
    worker_app = app_factory(register, name="worker", alert_interval_s=0.2, alert_handlers=[broken, record])
    async with producer, running_worker(worker_app):
        await producer.enqueue_many(producer.tasks["work"].call(True) for _ in range(12))
        await eventually(lambda: len(events) == 1, timeout_s=10)
        assert (events[0].alert, events[0].active, events[0].threshold) == ("error_rate", True, 0.5)
        assert events[0].value > 0.5
