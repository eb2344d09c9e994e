"""Two versions of a task on one queue: each job runs on a worker with its version, none is dead-lettered."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from jetjobs import App, JobRequest, JobState, current_job
from jetjobs._task import EnqueueOptions
from jetjobs.errors import JobFailed
from tests.helpers import AppFactory, eventually, running_worker


def _versioned(version: str, ran: list[tuple[str, str]]) -> object:
    def register(app: App) -> None:
        app.queue("roll", concurrency=8)

        @app.task(name="render", queue="roll", version=version)
        async def render(n: int) -> str:
            ran.append((current_job().id, version))
            await asyncio.sleep(0.001)
            return version

    return register


async def test_v1_and_v2_workers_on_one_queue_run_every_job_on_its_version(app_factory: AppFactory) -> None:
    ran: list[tuple[str, str]] = []
    producer = app_factory(name="other-service")  # enqueues by name, imports neither version
    v1, v2 = app_factory(_versioned("1.0", ran)), app_factory(_versioned("2.0", ran))
    async with producer, running_worker(v1), running_worker(v2):
        jobs = []
        for version in ("1.0", "2.0"):
            jobs += await producer.enqueue_many(
                [JobRequest("render", [i], options=EnqueueOptions(queue="roll", version=version)) for i in range(200)]
            )
        results = await asyncio.gather(*(job.result(timeout_s=120) for job in jobs))
        dead = await producer.dead_letters.list("roll")
    assert Counter(results) == {"1.0": 200, "2.0": 200}
    assert len(ran) == 400  # each ran once
    assert dead == []


async def test_a_version_no_worker_has_waits_visibly_then_is_dead_after_version_wait_s(
    app_factory: AppFactory,
) -> None:
    ran: list[tuple[str, str]] = []
    producer = app_factory(name="other-service")
    worker = app_factory(_versioned("1.0", ran), version_wait_s=3)
    async with producer, running_worker(worker):
        job = await producer.enqueue("render", args=[1], queue="roll", version="3.0")

        async def waiting() -> bool:
            info = await job.status()
            return info.state is JobState.QUEUED and info.waiting is not None

        await eventually(waiting, timeout_s=10)
        info = await job.status()
        assert info.waiting is not None
        assert "version '3.0'" in info.waiting
        with pytest.raises(JobFailed, match=r"version_wait_s=3s") as caught:
            await job.result(timeout_s=30)
        assert caught.value.state == "dead"
    assert ran == []
