"""Worker services as separate OS processes: crashes, SIGTERM, server restarts, shared caps."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from jetjobs import App, EnqueueOptions, JobRequest
from jetjobs.testing import NatsServer
from tests.e2e.conftest import StartWorker
from tests.e2e.processes import done_counts, events
from tests.helpers import eventually


def request(n: int, sleep_s: float = 0.0, queue: str = "work", task: str = "record") -> JobRequest:
    kwargs: dict[str, object] = {"sleep_s": sleep_s} if task == "capped" else {"n": n, "sleep_s": sleep_s}
    return JobRequest(task, kwargs=kwargs, options=EnqueueOptions(queue=queue))


async def test_happy_path_through_a_separate_worker_process(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    worker = start_worker()
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        job = await producer.enqueue("record", kwargs={"n": 7}, queue="work")
        assert await job.result(timeout_s=10) == 7
        info = await job.status()
    assert info.worker is not None
    assert info.worker.endswith(f":{worker.pid}")
    assert [(e.kind, e.pid) for e in events(record_dir)] == [("start", worker.pid), ("done", worker.pid)]


async def test_sigterm_under_load_loses_no_job(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        jobs = await producer.enqueue_many(request(i, sleep_s=0.05) for i in range(300))
        first = start_worker("--concurrency", "8", "--shutdown-grace-s", "10")
        await eventually(lambda: sum(done_counts(record_dir).values()) >= 40, timeout_s=20)
        first.signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 20) == 0
        # Everything the stopped worker started, it finished within the grace period.
        started_by_first = {e.job_id for e in events(record_dir) if e.pid == first.pid and e.kind == "start"}
        done_by_first = {e.job_id for e in events(record_dir) if e.pid == first.pid and e.kind == "done"}
        assert started_by_first == done_by_first
        assert "handing back" not in first.log()
        start_worker("--concurrency", "8")
        await eventually(lambda: len(done_counts(record_dir)) == 300, timeout_s=30)
    counts = done_counts(record_dir)
    assert set(counts) == {j.id for j in jobs}
    assert max(counts.values()) == 1  # a graceful stop does not run anything twice


async def test_sigkill_mid_job_the_job_completes_on_another_worker(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    doomed = start_worker()
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        job = await producer.enqueue("record", kwargs={"n": 1, "sleep_s": 1.0}, queue="work")
        await eventually(lambda: any(e.kind == "start" for e in events(record_dir)), timeout_s=10)
        doomed.signal(signal.SIGKILL)
        doomed.wait()
        survivor = start_worker()
        # ack_wait of the "work" queue is 2 s: the lost delivery comes back that fast.
        assert await job.result(timeout_s=15) == 1
    finished = [e for e in events(record_dir) if e.kind == "done"]
    assert [(e.pid, e.attempt) for e in finished] == [(survivor.pid, 2)]


async def test_workers_reconnect_after_a_server_restart_and_finish_every_job(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    worker = start_worker("--concurrency", "4")
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        jobs = await producer.enqueue_many(request(i, sleep_s=0.02) for i in range(200))
    await eventually(lambda: len(done_counts(record_dir)) >= 30, timeout_s=20)
    await asyncio.to_thread(jetjobs_server.restart, kill=True)
    await eventually(lambda: len(done_counts(record_dir)) == 200, timeout_s=45)
    assert set(done_counts(record_dir)) == {j.id for j in jobs}
    assert worker.proc.poll() is None  # the worker rode out the outage
    assert "reconnected to NATS" in worker.log()


async def test_cluster_wide_in_flight_cap_holds_across_two_worker_processes(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    first, second = start_worker("--queues", "capped"), start_worker("--queues", "capped")
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        await producer.enqueue_many(request(0, sleep_s=0.2, queue="capped", task="capped") for _ in range(24))
    await eventually(lambda: len(done_counts(record_dir)) == 24, timeout_s=30)
    # At equal times an end (-1) sorts before a start (+1): overlap is never overcounted.
    timeline = sorted((e.at, 1 if e.kind == "start" else -1) for e in events(record_dir))
    running = peak = 0
    for _, step in timeline:
        running += step
        peak = max(peak, running)
    pids = {e.pid for e in events(record_dir)}
    assert peak <= 3  # max_in_flight=3 while each process alone would run 8
    assert peak == 3
    assert pids == {first.pid, second.pid}
