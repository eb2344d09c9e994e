"""Job ids enqueued again after the duplicate window while the status bucket elects a leader:
every run ends with its own result (no record is set back to queued for good)."""

from __future__ import annotations

import asyncio

import pytest
from bench._chaos import step_down

from jetjobs import App, JobState, Worker
from jetjobs._names import Names
from tests.helpers import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

JOBS = 150


def _app(urls: str, namespace: str) -> App:
    app = App(
        "reused",
        nats_url=urls,
        namespace=namespace,
        replicas=3,
        request_timeout_s=2.0,
        queues={"again": {"duplicate_window_s": 1, "concurrency": 32}},
    )

    @app.task(queue="again", max_retries=0)
    async def echo(x: int) -> int:
        return x

    return app


async def _enqueue_all(app: App, offset: int) -> None:
    """Each id once (a failed enqueue is retried with the same id, as a careful producer does)."""
    for n in range(JOBS):
        while True:
            try:
                await app.enqueue("echo", args=[n + offset], job_id=f"r-{n}")
                break
            except Exception:
                await asyncio.sleep(0.2)


async def test_reenqueued_ids_during_status_leader_elections_end_with_the_new_results(cluster_urls: str) -> None:
    namespace = "creused"
    status_stream = f"KV_{Names(namespace).status_bucket}"
    app = _app(cluster_urls, namespace)
    async with app:
        await app.provision()
        worker = Worker(app, close_app=False, shutdown_grace_s=5)
        running = asyncio.create_task(worker.run())
        await worker.started.wait()
        try:
            await _enqueue_all(app, 0)
            assert not (await app.enqueue("echo", args=[0], job_id="probe")).duplicate  # after every r-n

            async def settled(offset: int) -> bool:
                for n in range(JOBS):
                    info = await app.status(f"r-{n}")
                    if info.state is not JobState.SUCCEEDED or info.result != n + offset:
                        return False
                return True

            await eventually(lambda: settled(0), timeout_s=60, every_s=0.2)

            async def window_passed() -> bool:  # for "probe", hence for every r-n
                return not (await app.enqueue("echo", args=[0], job_id="probe")).duplicate

            await eventually(window_passed, timeout_s=10, every_s=0.2)
            fault = asyncio.create_task(step_down(cluster_urls, status_stream, after_s=0.05)())
            await _enqueue_all(app, 1000)  # every id again, the status bucket changing leader meanwhile
            await fault
            try:
                await eventually(lambda: settled(1000), timeout_s=30, every_s=0.2)
            except AssertionError:
                for n in range(JOBS):
                    info = await app.status(f"r-{n}")
                    if info.state is not JobState.SUCCEEDED or info.result != n + 1000:
                        print("UNSETTLED", n, info.state, info.result, info.enqueued_at, info.updated_at)
                raise
        finally:
            worker.request_stop()
            await asyncio.wait_for(running, 60)
