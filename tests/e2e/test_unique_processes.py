"""Unique jobs across worker processes: one runs at a time per key; a killed holder's key frees itself."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from jetjobs import App
from jetjobs.errors import DuplicateJob
from jetjobs.testing import NatsServer
from tests.apps import unique_app
from tests.e2e.conftest import StartWorker
from tests.e2e.processes import events
from tests.helpers import eventually

APP = "tests.apps.unique_app:app"


def _producer(server: NatsServer) -> App:
    app = App("uniq", nats_url=server.url)
    unique_app.register(app)
    return app


async def test_fifty_jobs_of_one_key_run_one_at_a_time_across_two_workers(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    first, second = start_worker(app=APP), start_worker(app=APP)
    async with _producer(jetjobs_server) as producer:
        sync_user = producer.tasks["sync_user"]
        jobs = await asyncio.gather(*(sync_user.enqueue(7, i) for i in range(50)))
        results = await asyncio.gather(*(job.result(timeout_s=120) for job in jobs))
    assert sorted(results) == list(range(50))
    ran = events(record_dir)
    starts = [e for e in ran if e.kind == "start"]
    assert len(starts) == 50
    running = 0
    for event in ran:  # sorted by time: never two between a start and its done
        running += 1 if event.kind == "start" else -1
        assert running <= 1, "two jobs of one unique key ran at the same time"
    assert {e.pid for e in starts} == {first.pid, second.pid}


async def test_a_killed_workers_key_frees_itself_within_the_lock_ttl(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    worker = start_worker(app=APP, env={"JETJOBS_UNIQUE_LOCK_TTL_S": "3"})
    async with _producer(jetjobs_server) as producer:
        hold_user = producer.tasks["hold_user"]
        holder = await hold_user.enqueue(42, 600.0)
        await eventually(lambda: any(e.kind == "start" for e in events(record_dir)), timeout_s=20)
        with pytest.raises(DuplicateJob, match=holder.id):
            await hold_user.enqueue(42, 1.0)
        worker.signal(signal.SIGKILL)
        worker.wait()
        killed_at = time.monotonic()

        async def free() -> bool:
            try:
                await hold_user.options(queue="uniq").enqueue(42, 1.0)
            except DuplicateJob:
                return False
            return True

        await eventually(free, timeout_s=15, every_s=0.1)
        freed_after = time.monotonic() - killed_at
    # unique_lock_ttl_s=3: the server deletes the key once 3 s pass without a refresh
    # (the last refresh was at most 1 s before the kill); whole-second TTL granularity.
    assert freed_after < 3 + 1.5, freed_after
