"""Cancelling jobs in every state: queued (never runs), running async, thread and process tasks."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from jetjobs import App, JobState, current_job
from jetjobs.errors import JobCancelled
from tests.apps import semantics
from tests.helpers import AppFactory, eventually, running_worker


async def test_a_queued_job_that_is_cancelled_never_runs(app_factory: AppFactory) -> None:
    ran: list[str] = []

    def register(app: App) -> None:
        @app.task(queue="work")
        async def record(n: int) -> int:
            ran.append(current_job().id)
            return n

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer:
        doomed = await producer.tasks["record"].enqueue(1)
        assert await doomed.cancel() is True
        assert (await doomed.status()).state is JobState.CANCELLED
        with pytest.raises(JobCancelled):
            await doomed.result(timeout_s=5)
        # A worker started afterwards skips it, and runs what came after it.
        async with running_worker(worker_app):
            later = await producer.tasks["record"].enqueue(2)
            assert await later.result(timeout_s=10) == 2
        assert ran == [later.id]
        info = await doomed.status()
        assert info.state is JobState.CANCELLED
        assert info.error is not None
        assert info.error.message == "cancelled by request"
        assert await doomed.cancel() is False  # idempotent: it has ended
        assert await later.cancel() is False


async def test_a_running_async_job_is_cancelled_by_another_service(app_factory: AppFactory) -> None:
    started = asyncio.Event()
    saw_cancel: list[bool] = []

    def register(app: App) -> None:
        @app.task(queue="work")
        async def wait_forever() -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                saw_cancel.append(True)
                raise

    producer, worker_app = app_factory(register), app_factory(register)
    other_service = app_factory(name="other")
    async with producer, other_service, running_worker(worker_app) as worker:
        job = await producer.tasks["wait_forever"].enqueue()
        await asyncio.wait_for(started.wait(), 10)
        assert await other_service.cancel(job.id) is True  # by id alone, from an app without the task
        with pytest.raises(JobCancelled, match="cancelled by request"):
            await job.result(timeout_s=10)
        assert saw_cancel == [True]
        assert (await job.status()).state is JobState.CANCELLED
        await eventually(lambda: worker.fetchers["work"].running == 0)
        # The worker goes on with new jobs.
        started.clear()
        again = await producer.tasks["wait_forever"].enqueue()
        await asyncio.wait_for(started.wait(), 10)
        assert await again.cancel() is True
        with pytest.raises(JobCancelled):
            await again.result(timeout_s=10)


async def test_a_thread_job_sees_the_cancelled_flag_and_ends_cancelled(app_factory: AppFactory) -> None:
    started = threading.Event()
    loops: list[int] = []

    def register(app: App) -> None:
        @app.task(queue="work")
        def export(rows: int) -> int:
            job = current_job()
            started.set()
            for i in range(rows):
                if job.cancelled:
                    loops.append(i)
                    return i
                threading.Event().wait(0.01)
            return rows

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        job = await producer.tasks["export"].enqueue(100_000)
        await asyncio.to_thread(started.wait, 10)
        assert await job.cancel() is True
        with pytest.raises(JobCancelled):
            await job.result(timeout_s=10)
    assert len(loops) == 1
    assert loops[0] < 100_000


async def test_a_process_job_is_cancelled_and_its_child_killed(app_factory: AppFactory, tmp_path: Path) -> None:
    producer, worker_app = app_factory(semantics.register), app_factory(semantics.register, processes=1)
    pid_file = tmp_path / "pid"
    async with producer, running_worker(worker_app):
        job = await producer.tasks["hold"].enqueue(str(pid_file))
        await eventually(pid_file.exists, timeout_s=30)
        await eventually(lambda: pid_file.read_text() != "")
        pid = int(pid_file.read_text())
        assert await job.cancel() is True
        with pytest.raises(JobCancelled):
            await job.result(timeout_s=10)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        await eventually(gone, timeout_s=10)
        assert (await job.status()).state is JobState.CANCELLED


async def test_cancel_by_job_id_before_the_first_status_is_visible(app_factory: AppFactory) -> None:
    def register(app: App) -> None:
        @app.task(queue="work")
        async def noop() -> None:
            return None

    producer = app_factory(register)
    async with producer:
        jobs = [await producer.tasks["noop"].enqueue() for _ in range(20)]
        assert all([await job.cancel() for job in jobs])
        states = {(await job.status()).state for job in jobs}
    assert states == {JobState.CANCELLED}
