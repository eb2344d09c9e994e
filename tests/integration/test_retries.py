"""Retries go through nak(delay) with the task's backoff; what is not retryable goes to the DLQ."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from jetjobs import App, JobFailed, JobState, Retry, current_job
from tests.helpers import AppFactory, running_worker


def register(app: App, starts: dict[str, list[float]]) -> None:
    def record() -> int:
        job = current_job()
        starts.setdefault(job.id, []).append(time.monotonic())
        return job.attempt

    @app.task(queue="flaky", max_retries=3, retry_backoff="exponential", retry_delay_s=0.5, retry_jitter=False)
    async def exponential() -> int:
        attempt = record()
        if attempt < 4:
            raise ConnectionError(f"down on attempt {attempt}")
        return attempt

    @app.task(queue="flaky", max_retries=2, retry_backoff="linear", retry_delay_s=0.4, retry_jitter=False)
    async def linear() -> int:
        attempt = record()
        if attempt < 3:
            raise ConnectionError("down")
        return attempt

    @app.task(queue="flaky", max_retries=5, retry_for=(ConnectionError,), retry_delay_s=0.1, retry_jitter=False)
    async def picky(kind: str) -> str:
        record()
        raise (ConnectionError if kind == "conn" else KeyError)(kind)

    @app.task(queue="flaky", max_retries=2, timeout_s=0.3, retry_delay_s=0.1, retry_jitter=False)
    async def sleepy() -> None:
        record()
        await asyncio.sleep(10)

    @app.task(queue="flaky", max_retries=1)
    async def asks_for_retry() -> int:
        attempt = record()
        if attempt == 1:
            raise Retry(delay_s=0.7, reason="not yet")
        return attempt


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 2) for a, b in itertools.pairwise(times)]


async def test_exponential_backoff_delays_follow_the_policy(app_factory: AppFactory) -> None:
    starts: dict[str, list[float]] = {}
    producer, worker_app = (
        app_factory(lambda a: register(a, starts)),
        app_factory(lambda a: register(a, starts)),
    )
    async with producer, running_worker(worker_app):
        job = await producer.tasks["exponential"].enqueue()
        assert await job.result(timeout_s=15) == 4
    observed = gaps(starts[job.id])
    # 0.5, 1.0, 2.0 s: JetStream's consumer backoff would not apply to naks, the worker computes these.
    for got, want in zip(observed, [0.5, 1.0, 2.0], strict=True):
        assert want - 0.05 <= got <= want + 0.35, observed


async def test_linear_backoff_and_retrying_state(app_factory: AppFactory) -> None:
    starts: dict[str, list[float]] = {}
    producer, worker_app = (
        app_factory(lambda a: register(a, starts)),
        app_factory(lambda a: register(a, starts)),
    )
    async with producer, running_worker(worker_app):
        job = await producer.tasks["linear"].enqueue()
        assert await job.result(timeout_s=15) == 3
        info = await job.status()
    observed = gaps(starts[job.id])
    for got, want in zip(observed, [0.4, 0.8], strict=True):
        assert want - 0.05 <= got <= want + 0.35, observed
    assert info.state is JobState.SUCCEEDED
    assert info.attempts == 3
    assert info.first_failure_at is not None
    assert info.first_failure_at < (info.finished_at or "")


async def test_retry_for_filters_what_is_retried(app_factory: AppFactory) -> None:
    starts: dict[str, list[float]] = {}
    producer, worker_app = (
        app_factory(lambda a: register(a, starts)),
        app_factory(lambda a: register(a, starts)),
    )
    async with producer, running_worker(worker_app):
        retried = await producer.tasks["picky"].enqueue("conn")
        not_retried = await producer.tasks["picky"].enqueue("key")
        with pytest.raises(JobFailed, match="KeyError"):
            await not_retried.result(timeout_s=10)
        with pytest.raises(JobFailed, match="ConnectionError"):
            await retried.result(timeout_s=15)
        dead = await producer.dead_letters.list("flaky")
    assert len(starts[not_retried.id]) == 1
    assert len(starts[retried.id]) == 6
    by_job = {d.job_id: d for d in dead}
    assert "not in retry_for" in by_job[not_retried.id].reason
    assert by_job[retried.id].attempts == 6
    assert "gave up after 6 attempts" in by_job[retried.id].reason


async def test_timeout_then_retry_then_dead_letter(app_factory: AppFactory) -> None:
    starts: dict[str, list[float]] = {}
    producer, worker_app = (
        app_factory(lambda a: register(a, starts)),
        app_factory(lambda a: register(a, starts)),
    )
    async with producer, running_worker(worker_app):
        job = await producer.tasks["sleepy"].enqueue()
        with pytest.raises(JobFailed) as failure:
            await job.result(timeout_s=15)
        dead = await producer.dead_letters.list("flaky")
    assert failure.value.error_type == "jetjobs.errors.JobTimeout"
    assert len(starts[job.id]) == 3
    assert [d.job_id for d in dead] == [job.id]
    assert dead[0].error_type == "jetjobs.errors.JobTimeout"
    assert dead[0].attempts == 3


async def test_task_can_ask_for_a_retry_with_its_own_delay(app_factory: AppFactory) -> None:
    starts: dict[str, list[float]] = {}
    producer, worker_app = (
        app_factory(lambda a: register(a, starts)),
        app_factory(lambda a: register(a, starts)),
    )
    async with producer, running_worker(worker_app):
        job = await producer.tasks["asks_for_retry"].enqueue()
        assert await job.result(timeout_s=10) == 2
    (gap,) = gaps(starts[job.id])
    assert 0.65 <= gap <= 1.1
