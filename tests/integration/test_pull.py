"""The pull API: take jobs by hand and settle them like a worker does."""

from __future__ import annotations

import asyncio
import time

import pytest

from jetjobs import App, JetjobsError, JobFailed, JobState
from tests.helpers import AppFactory

QUEUES = {"pull": {"ack_wait_s": 1.5}}


def register(app: App) -> None:
    @app.task(queue="pull", max_retries=1, retry_delay_s=0.05, retry_jitter=False)
    async def add(a: int, b: int) -> int:
        return a + b


async def test_dequeue_decodes_and_complete_stores_the_result(app_factory: AppFactory) -> None:
    async with app_factory(register, queues=QUEUES) as app:
        job = await app.enqueue("add", kwargs={"a": 1, "b": 2}, priority="low")
        urgent = await app.enqueue("add", kwargs={"a": 10, "b": 20}, priority="high")
        first = await app.dequeue("pull", timeout_s=5)
        assert first is not None
        assert (first.id, first.kwargs, first.priority, first.attempt) == (urgent.id, {"a": 10, "b": 20}, "high", 1)
        assert (await app.status(first.id)).state is JobState.RUNNING
        await first.complete(30)
        held = await app.dequeue("pull", timeout_s=5)
        assert held is not None
        assert held.id == job.id
        await held.complete(3)
        assert await job.result(timeout_s=5) == 3
        assert await urgent.result(timeout_s=5) == 30
        info = await app.status(job.id)
        assert (info.state, info.attempts) == (JobState.SUCCEEDED, 1)
        with pytest.raises(JetjobsError, match="settled already"):
            await held.complete(3)


async def test_dequeue_of_an_empty_queue_returns_none_after_the_timeout(app_factory: AppFactory) -> None:
    async with app_factory(register, queues=QUEUES) as app:
        started = time.monotonic()
        assert await app.dequeue("pull", timeout_s=0.3) is None
        assert 0.3 <= time.monotonic() - started < 3


async def test_fail_retries_then_dead_letters_like_the_worker(app_factory: AppFactory) -> None:
    async with app_factory(register, queues=QUEUES) as app:
        job = await app.enqueue("add", kwargs={"a": 1, "b": 2})
        first = await app.dequeue("pull", timeout_s=5)
        assert first is not None
        await first.fail(ValueError("smtp down"))
        info = await app.status(job.id)
        assert info.state is JobState.RETRYING
        assert info.error is not None
        assert info.error.type == "ValueError"
        second = await app.dequeue("pull", timeout_s=5)
        assert second is not None
        assert (second.id, second.attempt) == (job.id, 2)
        await second.fail("still down")
        with pytest.raises(JobFailed, match="still down"):
            await job.result(timeout_s=5)
        assert (await app.status(job.id)).state is JobState.FAILED
        dead = await app.dead_letters.list("pull")
        assert [d.job_id for d in dead] == [job.id]


async def test_retry_with_delay_and_cancel(app_factory: AppFactory) -> None:
    async with app_factory(register, queues=QUEUES) as app:
        job = await app.enqueue("add", kwargs={"a": 1, "b": 2})
        held = await app.dequeue("pull", timeout_s=5)
        assert held is not None
        await held.retry(delay_s=0.2)
        info = await app.status(job.id)
        assert (info.state, info.next_attempt_in_s) == (JobState.RETRYING, 0.2)
        again = await app.dequeue("pull", timeout_s=5)
        assert again is not None
        assert again.attempt == 2
        await again.cancel("not needed")
        assert (await app.status(job.id)).state is JobState.CANCELLED


async def test_a_consumer_without_the_task_code_gets_raw_arguments(app_factory: AppFactory) -> None:
    async with app_factory(name="producer", queues=QUEUES) as producer, app_factory(name="hand") as hand:
        job = await producer.enqueue("resize", args=["/img/1.png"], kwargs={"width": 64}, queue="pull")
        held = await hand.dequeue("pull", timeout_s=5)
        assert held is not None
        assert (held.task, held.args, held.kwargs) == ("resize", ("/img/1.png",), {"width": 64})
        await held.complete({"path": "/img/1-64.png"})
        assert await job.result(timeout_s=5) == {"path": "/img/1-64.png"}


async def test_a_held_job_is_heartbeated_and_a_never_settled_one_comes_back_after_ack_wait(
    app_factory: AppFactory,
) -> None:
    async with app_factory(register, queues=QUEUES) as other:
        holder = app_factory(register, name="holder", queues=QUEUES)
        await holder.connect()
        job = await holder.enqueue("add", kwargs={"a": 1, "b": 2})
        held = await holder.dequeue("pull", timeout_s=5)
        assert held is not None
        # Held longer than twice ack_wait: the heartbeat keeps it from the other consumer.
        assert await other.dequeue("pull", timeout_s=3.5) is None
        await holder.close()  # never settled: no heartbeat from now on, no nak either
        closed_at = time.monotonic()
        back = await other.dequeue("pull", timeout_s=10)
        assert back is not None
        assert (back.id, back.attempt) == (job.id, 2)
        assert time.monotonic() - closed_at >= 1.0  # it waited for ack_wait (1.5 s)
        await back.complete(3)
        assert await other.result(job.id, timeout_s=5) == 3


async def test_consume_holds_at_most_max_in_flight(app_factory: AppFactory) -> None:
    async with app_factory(register, queues=QUEUES) as app:
        jobs = [await app.enqueue("add", kwargs={"a": i, "b": 0}) for i in range(5)]
        async with app.consume("pull", max_in_flight=2) as stream:
            iterator = aiter(stream)
            held = [await anext(iterator), await anext(iterator)]
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(iterator), 0.5)  # both slots are taken
            for job in held:
                await job.complete(job.kwargs["a"])
            done = 2
            async for job in stream:
                await job.complete(job.kwargs["a"])
                done += 1
                if done == 5:
                    break
        assert [await j.result(timeout_s=5) for j in jobs] == [0, 1, 2, 3, 4]


async def test_invalid_arguments_are_dead_lettered_not_handed_out(app_factory: AppFactory) -> None:
    async with app_factory(name="producer") as producer, app_factory(register, queues=QUEUES) as app:
        job = await producer.enqueue("add", kwargs={"a": "one", "b": 2}, queue="pull")
        assert await app.dequeue("pull", timeout_s=1) is None
        with pytest.raises(JobFailed, match="Input should be a valid integer"):
            await app.result(job.id, timeout_s=5)
        assert (await app.status(job.id)).state is JobState.DEAD
