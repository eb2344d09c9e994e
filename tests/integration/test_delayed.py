"""Delayed jobs: native message schedules fire on time, survive restarts and can be cancelled."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from jetjobs import App, InvalidPayload, JobState
from jetjobs.testing import NatsServer
from tests.helpers import AppFactory, running_worker


def register(app: App, starts: dict[str, float]) -> None:
    @app.task(queue="later")
    async def remind(text: str) -> str:
        from jetjobs import current_job

        starts[current_job().id] = time.time()
        return text.upper()


async def test_delayed_job_waits_as_scheduled_then_runs_on_time(app_factory: AppFactory) -> None:
    starts: dict[str, float] = {}
    producer, worker_app = app_factory(lambda a: register(a, starts)), app_factory(lambda a: register(a, starts))
    async with producer, running_worker(worker_app):
        enqueued = time.time()
        job = await producer.tasks["remind"].options(delay_s=2).enqueue("ping")
        info = await job.status()
        assert info.state is JobState.SCHEDULED
        assert info.scheduled_for is not None
        assert await job.result(timeout_s=10) == "PING"
    lateness = starts[job.id] - (enqueued + 2)
    assert -0.05 <= lateness <= 1.0, lateness  # the server checks schedules about twice a second


async def test_eta_in_the_past_runs_at_once_and_bad_times_are_rejected(app_factory: AppFactory) -> None:
    starts: dict[str, float] = {}
    producer, worker_app = app_factory(lambda a: register(a, starts)), app_factory(lambda a: register(a, starts))
    remind = producer.tasks["remind"]
    async with producer, running_worker(worker_app):
        past = await remind.options(eta=datetime.now(UTC) - timedelta(minutes=1)).enqueue("now")
        assert await past.result(timeout_s=5) == "NOW"
        with pytest.raises(InvalidPayload, match="eta needs a time zone"):
            await remind.options(eta=datetime.now() + timedelta(minutes=1)).enqueue("naive")
        with pytest.raises(InvalidPayload, match="delay_s must be >= 0"):
            await remind.options(delay_s=-1).enqueue("negative")


async def test_cancel_stops_a_delayed_job_before_it_fires(app_factory: AppFactory) -> None:
    starts: dict[str, float] = {}
    producer, worker_app = app_factory(lambda a: register(a, starts)), app_factory(lambda a: register(a, starts))
    async with producer, running_worker(worker_app):
        doomed = await producer.tasks["remind"].options(delay_s=1.5).enqueue("never")
        kept = await producer.tasks["remind"].options(delay_s=1.5).enqueue("kept")
        assert await doomed.cancel() is True
        assert await doomed.cancel() is False  # already cancelled
        assert await kept.result(timeout_s=10) == "KEPT"
        info = await doomed.status()
        assert await kept.cancel() is False  # already ran
    assert info.state is JobState.CANCELLED
    assert doomed.id not in starts


async def test_delayed_job_survives_a_server_restart(app_factory: AppFactory, jetjobs_server: NatsServer) -> None:
    starts: dict[str, float] = {}
    async with app_factory(lambda a: register(a, starts)) as producer:
        job = await producer.tasks["remind"].options(delay_s=3).enqueue("persistent")
    await asyncio.to_thread(jetjobs_server.restart, kill=True)
    worker_app, reader = app_factory(lambda a: register(a, starts)), app_factory()
    async with running_worker(worker_app), reader:
        assert await reader.result(job.id, timeout_s=15) == "PERSISTENT"


async def test_a_full_queue_holds_due_jobs_back_instead_of_dropping_them(app_factory: AppFactory) -> None:
    starts: dict[str, float] = {}

    def bounded(app: App) -> None:
        app.queue("later", max_length=1)
        register(app, starts)

        @app.task(queue="later")
        async def occupy(seconds: float) -> None:
            await asyncio.sleep(seconds)  # its message stays in the stream until acked: the queue is full

    producer = app_factory(bounded)
    async with producer, running_worker(app_factory(bounded)):
        blocker = await producer.tasks["occupy"].enqueue(3.0)
        delayed = await producer.tasks["remind"].options(delay_s=1).enqueue("waits")
        await asyncio.sleep(2)  # due for a second while the queue is full
        assert (await delayed.status()).state is JobState.SCHEDULED
        assert await delayed.result(timeout_s=20) == "WAITS"
        await blocker.result(timeout_s=5)
    assert starts[delayed.id] > time.time() - 20


async def test_status_and_cancel_right_after_enqueue_see_the_job(app_factory: AppFactory) -> None:
    starts: dict[str, float] = {}
    producer = app_factory(lambda a: register(a, starts))
    remind = producer.tasks["remind"]
    async with producer:
        for i in range(50):
            job = await remind.options(delay_s=60).enqueue(f"n{i}")
            assert (await job.status()).state is JobState.SCHEDULED
            assert await job.cancel() is True
        # By id only, after the status record is gone: the queue is enough.
        job = await remind.options(delay_s=60).enqueue("no record")
        await producer.status_store.kv.delete(job.id)
        assert await producer.cancel(job.id, queue="later") is True
        assert await producer.cancel(job.id, queue="later") is False
