"""Worker behaviour: priorities, concurrency, long jobs, thread and process pools, rate limits."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from nats.aio.client import Client

from jetjobs import App, JobFailed, JobState, current_job
from tests.apps import cpu
from tests.helpers import AppFactory, eventually, running_worker


async def test_priorities_are_served_high_normal_low(app_factory: AppFactory) -> None:
    order: list[str] = []

    def register(app: App) -> None:
        @app.task(queue="prio")
        async def step(label: str) -> None:
            order.append(label)

    producer, worker_app = app_factory(register), app_factory(register)
    step = producer.tasks["step"]
    async with producer:
        for i in range(5):
            await step.options(priority="low").enqueue(f"low{i}")
            await step.options(priority="normal").enqueue(f"normal{i}")
            await step.options(priority="high").enqueue(f"high{i}")
        async with running_worker(worker_app, concurrency=1):
            await eventually(lambda: len(order) == 15)
    assert [label.rstrip("0123456789") for label in order] == ["high"] * 5 + ["normal"] * 5 + ["low"] * 5
    assert order[:5] == [f"high{i}" for i in range(5)]  # FIFO within a priority


async def test_high_priority_job_overtakes_a_low_priority_backlog(app_factory: AppFactory) -> None:
    order: list[str] = []

    def register(app: App) -> None:
        @app.task(queue="prio")
        async def step(label: str) -> None:
            order.append(label)
            await asyncio.sleep(0.02)

    producer, worker_app = app_factory(register), app_factory(register)
    step = producer.tasks["step"]
    async with producer:
        await producer.enqueue_many(step.options(priority="low").call(f"low{i}") for i in range(40))
        async with running_worker(worker_app, concurrency=2):
            await eventually(lambda: len(order) >= 5)
            await step.options(priority="high").enqueue("urgent")
            await eventually(lambda: "urgent" in order)
            position = order.index("urgent")
    # Two slots plus one message per priority in hand: the urgent job starts within a few jobs.
    assert position <= 5 + 4, order


async def test_concurrency_cap_is_never_exceeded(app_factory: AppFactory) -> None:
    running = 0
    peak = 0
    done = 0

    def register(app: App) -> None:
        @app.task(queue="capped")
        async def work() -> None:
            nonlocal running, peak, done
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1
            done += 1

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app, concurrency=4):
        await producer.enqueue_many(producer.tasks["work"].call() for _ in range(200))
        await eventually(lambda: done == 200, timeout_s=20)
    assert peak == 4


async def test_job_longer_than_ack_wait_is_not_redelivered(app_factory: AppFactory) -> None:
    attempts: list[int] = []

    def register(app: App) -> None:
        app.queue("slow", ack_wait_s=1)

        @app.task(queue="slow", max_retries=3)
        async def long_job() -> int:
            attempts.append(current_job().attempt)
            await asyncio.sleep(3.5)  # 3.5x ack_wait: heartbeats (in_progress) keep it ours
            return len(attempts)

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["long_job"].enqueue()
        assert await job.result(timeout_s=15) == 1
    assert attempts == [1]


async def test_sync_task_runs_in_a_thread_with_its_context(app_factory: AppFactory) -> None:
    loop_thread = threading.get_ident()

    def register(app: App) -> None:
        @app.task(queue="blocking")
        def blocking(n: int) -> dict[str, object]:
            time.sleep(0.05)  # blocking code must not stall the event loop
            return {"n": n, "job": current_job().id, "in_loop_thread": threading.get_ident() == loop_thread}

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        jobs = [await producer.tasks["blocking"].enqueue(i) for i in range(8)]
        started = time.monotonic()
        results = [await j.result(timeout_s=10) for j in jobs]
        elapsed = time.monotonic() - started
    assert [r["n"] for r in results] == list(range(8))
    assert all(r["job"] == j.id and r["in_loop_thread"] is False for r, j in zip(results, jobs, strict=True))
    assert elapsed < 0.05 * 8  # ran concurrently in the pool


async def test_cpu_bound_task_runs_in_a_process_and_timeout_kills_it(app_factory: AppFactory) -> None:
    producer, worker_app = app_factory(cpu.register), app_factory(cpu.register, processes=1)
    async with producer, running_worker(worker_app):
        ok = await producer.tasks["crunch"].enqueue(1000)
        assert await ok.result(timeout_s=30) == {"sum": 499500, "job": ok.id}
        runaway = await producer.tasks["spin"].enqueue()
        started = time.monotonic()
        with pytest.raises(JobFailed, match=r"jetjobs\.errors\.JobTimeout"):
            await runaway.result(timeout_s=30)
        assert time.monotonic() - started < 20
        # The pool's only process was killed twice and replaced: it still runs new jobs.
        again = await producer.tasks["crunch"].enqueue(10)
        assert (await again.result(timeout_s=30))["sum"] == 45
        info = await runaway.status()
    assert info.state is JobState.FAILED
    assert info.attempts == 2


async def test_rate_limit_spaces_job_starts(app_factory: AppFactory) -> None:
    starts: list[float] = []

    def register(app: App) -> None:
        app.queue("limited", rate_limit=10, rate_burst=1)

        @app.task(queue="limited")
        async def tick() -> None:
            starts.append(time.monotonic())

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        await producer.enqueue_many(producer.tasks["tick"].call() for _ in range(11))
        await eventually(lambda: len(starts) == 11, timeout_s=10)
    span = starts[-1] - starts[0]
    assert 0.9 <= span <= 1.6, span  # 10 intervals at 10 jobs/s


async def test_store_result_false_keeps_status_but_not_the_value(app_factory: AppFactory) -> None:
    def register(app: App) -> None:
        @app.task(queue="quiet", store_result=False)
        async def secret() -> str:
            return "do not keep me"

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["secret"].enqueue()
        assert await job.result(timeout_s=10) is None
        info = await job.status()
    assert info.state is JobState.SUCCEEDED
    assert info.result is None


async def test_a_failing_hook_is_logged_and_never_blocks_the_ack(app_factory: AppFactory, raw_nc: Client) -> None:
    from jetjobs import Hooks

    class Broken(Hooks):
        def on_success(self, job: object, result_json: bytes) -> None:
            raise RuntimeError("hook bug")

    seen: list[str] = []

    class Watching(Hooks):
        def on_success(self, job: object, result_json: bytes) -> None:
            seen.append(result_json.decode())

    def register(app: App) -> None:
        app.hooks[:0] = [Broken(), Watching()]

        @app.task(queue="hooked")
        async def fine() -> int:
            return 7

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["fine"].enqueue()
        assert await job.result(timeout_s=10) == 7
        await eventually(lambda: seen == ["7"])
    info = await raw_nc.jetstream().consumer_info("JOBS_hooked", "hooked-normal")
    assert (info.num_ack_pending, info.num_pending) == (0, 0)  # acked, not waiting for redelivery
