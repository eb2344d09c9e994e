"""Progress: reported by async, thread and process tasks, throttled, visible to a watcher while the job runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jetjobs import App, JobInfo, JobState, current_job
from jetjobs.cli._follow import follow
from tests.apps import semantics
from tests.helpers import AppFactory, eventually, running_worker


async def _watch_until(job_watch: AsyncIterator[JobInfo], fraction: float, seen: list[JobInfo]) -> None:
    async for info in job_watch:
        seen.append(info)
        if info.state is JobState.RUNNING and info.progress is not None and info.progress.fraction >= fraction:
            return


async def test_progress_of_an_async_task_is_throttled_and_visible_while_it_runs(app_factory: AppFactory) -> None:
    release = asyncio.Event()

    def register(app: App) -> None:
        @app.task(queue="work")
        async def crunch(n: int) -> int:
            job = current_job()
            for i in range(n):  # a tight loop: must not become n status writes
                job.progress((i + 1) / n, f"{i + 1}/{n}")
                if i % 1000 == 0:
                    await asyncio.sleep(0)
            await release.wait()
            return n

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["crunch"].enqueue(20_000)
        seen: list[JobInfo] = []
        await asyncio.wait_for(_watch_until(job.watch(), 1.0, seen), 15)
        progress = await job.progress()
        assert progress is not None
        assert progress.fraction == 1.0
        assert progress.message == "20000/20000"
        assert (await job.status()).state is JobState.RUNNING
        release.set()
        assert await job.result(timeout_s=10) == 20_000
        final = await job.status()
    assert final.state is JobState.SUCCEEDED
    assert final.progress is not None
    assert final.progress.fraction == 1.0
    # queued + a few throttled running/progress records, not 20,000.
    assert len(seen) < 20


async def test_progress_of_a_thread_task(app_factory: AppFactory) -> None:
    release = threading.Event()

    def register(app: App) -> None:
        @app.task(queue="work")
        def rows(n: int) -> int:
            job = current_job()
            for i in range(n):
                job.progress((i + 1) / n, "rows")
                threading.Event().wait(0.001)
            release.wait(10)
            return n

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["rows"].enqueue(200)
        seen: list[JobInfo] = []
        await asyncio.wait_for(_watch_until(job.watch(), 1.0, seen), 15)
        fractions = [i.progress.fraction for i in seen if i.progress is not None]
        assert fractions == sorted(fractions)
        assert fractions[-1] == 1.0
        release.set()
        assert await job.result(timeout_s=10) == 200


async def test_progress_of_a_process_task(app_factory: AppFactory, tmp_path: Path) -> None:
    producer, worker_app = app_factory(semantics.register), app_factory(semantics.register, processes=1)
    gate = tmp_path / "gate"
    async with producer, running_worker(worker_app):
        job = await producer.tasks["count_up"].enqueue(5000, str(gate))
        seen: list[JobInfo] = []
        await asyncio.wait_for(_watch_until(job.watch(), 1.0, seen), 30)
        progress = await job.progress()
        assert progress is not None
        assert progress.message == "step 5000/5000"
        gate.write_text("go")
        assert await job.result(timeout_s=10) == 5000


async def test_no_progress_reported_means_none(app_factory: AppFactory) -> None:
    def register(app: App) -> None:
        @app.task(queue="work")
        async def quick() -> int:
            return 1

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["quick"].enqueue()
        assert await job.result(timeout_s=10) == 1
        await eventually(lambda: True)
        assert await job.progress() is None
        states = [info.state async for info in job.watch(timeout_s=5)]
    assert states == [JobState.SUCCEEDED]


async def test_status_follow_prints_a_live_bar_until_the_job_ends(
    app_factory: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    def register(app: App) -> None:
        @app.task(queue="work")
        async def steps(n: int) -> int:
            for i in range(n):
                current_job().progress((i + 1) / n, f"step {i + 1}")
                await asyncio.sleep(0.3)
            return n

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["steps"].enqueue(4)
        final = await follow(producer, job.id, timeout_s=20)  # not a terminal: plain lines
    assert final.state is JobState.SUCCEEDED
    lines = capsys.readouterr().out.splitlines()
    assert any("running [" in line and "step 2" in line for line in lines), lines
    assert lines[-1] == f"{job.id}: succeeded [{'#' * 30}] 100% step 4"
