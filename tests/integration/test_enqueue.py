"""Enqueue: validation, ids, dedupe, bounded queues, bulk, results."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from jetjobs import (
    App,
    InvalidPayload,
    JobFailed,
    JobNotFound,
    JobState,
    PayloadTooLarge,
    QueueFull,
    UnknownTask,
    current_job,
)
from jetjobs.telemetry import metrics
from tests.helpers import AppFactory, eventually, running_worker


def register(app: App, ran: list[str] | None = None) -> None:
    @app.task(queue="emails", max_retries=0)
    async def send_email(to: str, subject: str, body: str = "") -> dict[str, object]:
        job = current_job()
        if ran is not None:
            ran.append(job.id)
        if to == "boom@example.com":
            raise ValueError("mailbox exploded")
        return {"to": to, "subject": subject, "attempt": job.attempt, "meta": dict(job.metadata)}


async def stream_messages(nc: Client, stream: str) -> int:
    try:
        info = await nc.jetstream().stream_info(stream)
    except Exception:
        return 0
    return int(info.state.messages)


async def test_enqueue_runs_and_returns_result_and_status(app_factory: AppFactory) -> None:
    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["send_email"].enqueue("a@example.com", subject="hi")
        result = await job.result(timeout_s=10)
        info = await job.status()
    assert result == {"to": "a@example.com", "subject": "hi", "attempt": 1, "meta": {}}
    assert info.state is JobState.SUCCEEDED
    assert info.task == "send_email"
    assert info.queue == "emails"
    assert info.attempts == 1
    assert info.enqueued_at
    assert info.started_at
    assert info.finished_at
    assert info.worker


async def test_enqueue_by_name_with_options_and_metadata(app_factory: AppFactory) -> None:
    producer = app_factory()  # does not import the task: enqueues by name
    worker_app = app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.enqueue(
            "send_email",
            args=["b@example.com"],
            kwargs={"subject": "by name"},
            queue="emails",
            job_id="order-42",
            priority="high",
            metadata={"tenant": "acme"},
        )
        assert job.id == "order-42"
        result = await job.result(timeout_s=10)
    assert result["meta"] == {"tenant": "acme"}
    assert result["to"] == "b@example.com"


async def test_invalid_arguments_fail_at_enqueue_and_publish_nothing(app_factory: AppFactory, raw_nc: Client) -> None:
    producer = app_factory(register)
    send_email = producer.tasks["send_email"]
    async with producer:
        with pytest.raises(InvalidPayload, match="subject"):
            await send_email.enqueue("a@example.com")  # type: ignore[call-arg]
        with pytest.raises(InvalidPayload, match="'to'"):
            await send_email.enqueue(42, subject="x")  # type: ignore[arg-type]
        with pytest.raises(InvalidPayload, match="unexpected keyword"):
            await producer.enqueue("send_email", kwargs={"to": "a", "subject": "b", "cc": "c"})
        with pytest.raises(InvalidPayload, match="job_id"):
            await send_email.options(job_id="has space").enqueue("a@example.com", subject="x")
        with pytest.raises(InvalidPayload, match="not JSON-serialisable"):
            await producer.enqueue("other", args=[object()], queue="emails")
    assert await stream_messages(raw_nc, "JOBS_emails") == 0


async def test_unknown_task_without_queue_is_a_clear_error(app_factory: AppFactory) -> None:
    async with app_factory() as producer:
        with pytest.raises(UnknownTask, match="pass queue="):
            await producer.enqueue("nobody_registered_this")


async def test_oversized_job_is_rejected_before_publishing(app_factory: AppFactory, raw_nc: Client) -> None:
    async with app_factory(register) as producer:
        with pytest.raises(PayloadTooLarge, match="at most 1048576"):
            await producer.tasks["send_email"].enqueue("a@example.com", subject="big", body="x" * 1_100_000)
    assert await stream_messages(raw_nc, "JOBS_emails") == 0


async def test_full_queue_raises_queue_full_and_keeps_queued_jobs(app_factory: AppFactory, raw_nc: Client) -> None:
    producer = app_factory(register)
    producer.queue("emails", max_length=3)
    async with producer:
        for i in range(3):
            await producer.tasks["send_email"].enqueue(f"u{i}@example.com", subject="hi")
        with pytest.raises(QueueFull, match="emails"):
            await producer.tasks["send_email"].enqueue("late@example.com", subject="hi")
    assert await stream_messages(raw_nc, "JOBS_emails") == 3


async def test_same_job_id_twice_runs_once(app_factory: AppFactory) -> None:
    ran: list[str] = []
    producer, worker_app = app_factory(register), app_factory(lambda a: register(a, ran))
    counted = metrics.enqueued.values.get(("send_email", "emails"), 0)
    async with producer:
        first = await producer.tasks["send_email"].options(job_id="welcome-7").enqueue("a@example.com", subject="1")
        second = await producer.tasks["send_email"].options(job_id="welcome-7").enqueue("a@example.com", subject="2")
        marker = await producer.tasks["send_email"].enqueue("marker@example.com", subject="after")
        async with running_worker(worker_app):
            assert (await first.result(timeout_s=10))["subject"] == "1"
            await marker.result(timeout_s=10)
    assert not first.duplicate
    assert second.duplicate
    assert ran.count("welcome-7") == 1
    assert metrics.enqueued.values[("send_email", "emails")] - counted == 2  # the duplicate is not counted


async def test_enqueue_many_runs_every_job(app_factory: AppFactory) -> None:
    ran: list[str] = []
    producer, worker_app = app_factory(register), app_factory(lambda a: register(a, ran))
    send_email = producer.tasks["send_email"]
    async with producer, running_worker(worker_app):
        jobs = await producer.enqueue_many(send_email.call(f"user{i}@example.com", subject="bulk") for i in range(300))
        assert len({j.id for j in jobs}) == 300
        for job in jobs[-5:]:
            await job.result(timeout_s=20)
        await eventually(lambda: len(ran) >= 300, timeout_s=20)
    assert sorted(ran) == sorted(j.id for j in jobs)


async def test_failed_job_result_carries_remote_error(app_factory: AppFactory) -> None:
    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["send_email"].enqueue("boom@example.com", subject="x")
        with pytest.raises(JobFailed) as failure:
            await job.result(timeout_s=10)
        info = await job.status()
    assert failure.value.error_type == "ValueError"
    assert failure.value.message == "mailbox exploded"
    assert "raise ValueError" in failure.value.traceback
    assert info.state is JobState.FAILED
    assert info.error is not None


async def test_status_of_unknown_job(app_factory: AppFactory) -> None:
    async with app_factory() as producer:
        with pytest.raises(JobNotFound):
            await producer.status("never-enqueued")
