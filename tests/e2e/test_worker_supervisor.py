"""``jetjobs worker --processes N``: children that share the queue, one endpoint, one lifecycle."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

from jetjobs import App, EnqueueOptions, JobRequest
from jetjobs.telemetry._http import loopback_get
from jetjobs.testing import NatsServer, free_port
from jetjobs.transport import queue_stats
from jetjobs.worker._presence import list_workers
from tests.e2e.conftest import StartWorker
from tests.e2e.processes import WorkerProcess, done_counts, events
from tests.helpers import eventually

LOOPBACK = {"JETJOBS_METRICS_HOST": "127.0.0.1"}


def request(n: int, sleep_s: float) -> JobRequest:
    return JobRequest("record", kwargs={"n": n, "sleep_s": sleep_s}, options=EnqueueOptions(queue="work"))


async def supervised(
    start_worker: StartWorker, *args: str, processes: int = 2, setting: bool = False
) -> tuple[WorkerProcess, list[int]]:
    """A supervisor with every child ready; returns it and its children's pids (from its log).

    ``setting``: ask through JETJOBS_WORKER_PROCESSES instead of ``--processes``.
    """
    if setting:
        env = {**LOOPBACK, "JETJOBS_WORKER_PROCESSES": str(processes)}
        parent = start_worker(*args, ready=False, env=env)
    else:
        parent = start_worker("--processes", str(processes), *args, ready=False, env=LOOPBACK)
    await eventually(lambda: f"all {processes} worker processes ready" in parent.log(), timeout_s=20)
    children = [int(pid) for pid in re.findall(r"worker process \d+/\d+ started \(pid (\d+)\)", parent.log())]
    assert len(children) == processes
    assert parent.pid not in children
    return parent, children


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for init to reap it counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def in_flight(port: int) -> int:
    found = re.search(r'jetjobs_jobs_in_flight\{queue="work"\} (\S+)', scrape(port))
    return int(float(found.group(1))) if found else 0


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
    return text


def async_status(port: int, path: str, expected: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await loopback_get(port, path))[0] == expected

    return check


def succeeded(metrics: str) -> int:
    found = re.search(r'jetjobs_jobs_total\{task="record",queue="work",outcome="succeeded"\} (\S+)', metrics)
    return int(float(found.group(1))) if found else 0


async def test_two_processes_share_the_queue_behind_one_endpoint(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    port = free_port()
    parent, children = await supervised(start_worker, "--concurrency", "4", "--metrics-port", str(port))
    assert (await loopback_get(port, "/readyz"))[0] == 200
    assert (await loopback_get(port, "/healthz"))[0] == 200
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        jobs = await producer.enqueue_many(request(i, sleep_s=0.3) for i in range(40))
        # 4 slots per process: 8 in flight means both processes' gauges were added up.
        await eventually(lambda: in_flight(port) == 8, timeout_s=10)
        await eventually(lambda: len(done_counts(record_dir)) == 40, timeout_s=20)
        statuses = [await job.status() for job in jobs]
        workers = await list_workers(producer.connection)
    ran_in = {e.pid for e in events(record_dir) if e.kind == "done"}
    assert ran_in == set(children)  # both children ran jobs; the supervisor itself none
    assert {s.worker.rpartition(":")[2] for s in statuses if s.worker} == {str(p) for p in children}
    assert sorted(w["pid"] for w in workers if not w["stale"]) == sorted(children)
    # One endpoint: both children's counts, summed.
    status, body = await loopback_get(port, "/metrics")
    assert status == 200
    assert succeeded(body.decode()) == 40
    assert body.decode().count("# TYPE jetjobs_jobs_total counter") == 1
    # Readiness is every child's: without NATS none is ready, and all are again after it.
    await asyncio.to_thread(jetjobs_server.stop)
    await eventually(async_status(port, "/readyz", 503), timeout_s=20)
    assert (await loopback_get(port, "/healthz"))[0] == 200
    await asyncio.to_thread(jetjobs_server.start)
    await eventually(async_status(port, "/readyz", 200), timeout_s=30)
    parent.signal(signal.SIGTERM)
    assert await asyncio.to_thread(parent.wait, 20) == 0


async def test_sigterm_drains_every_process_and_exits_0(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    parent, children = await supervised(start_worker, "--concurrency", "3", "--shutdown-grace-s", "10")
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        await producer.enqueue_many(request(i, sleep_s=0.4) for i in range(40))
        # Jobs are running in both children when the signal comes.
        await eventually(lambda: {e.pid for e in events(record_dir) if e.kind == "start"} == set(children), 10)
        parent.signal(signal.SIGTERM)
        assert await asyncio.to_thread(parent.wait, 20) == 0
        await eventually(lambda: all(gone(pid) for pid in children), timeout_s=5)
        started = {e.job_id for e in events(record_dir) if e.kind == "start"}
        done = {e.job_id for e in events(record_dir) if e.kind == "done"}
        assert started
        assert started == done
        assert "handing back" not in parent.log()
        # The rest is still queued for the next worker.
        stats = await queue_stats(producer.connection, "work", with_dead=False)
        assert stats is not None
        assert stats.messages == 40 - len(done)


async def test_a_child_that_dies_stops_the_others_and_the_exit_code_says_so(start_worker: StartWorker) -> None:
    parent, children = await supervised(start_worker, setting=True)
    os.kill(children[0], signal.SIGKILL)
    assert await asyncio.to_thread(parent.wait, 20) == 128 + signal.SIGKILL
    await eventually(lambda: gone(children[1]), timeout_s=5)
    assert f"(pid {children[0]}) exited with signal 9" in parent.log()


async def test_children_of_a_killed_supervisor_stop_by_themselves(start_worker: StartWorker) -> None:
    parent, children = await supervised(start_worker)
    parent.signal(signal.SIGKILL)
    parent.wait()
    started = time.monotonic()
    await eventually(lambda: all(gone(pid) for pid in children), timeout_s=15)
    assert time.monotonic() - started < 15
    assert parent.log().count("the supervisor of this worker process is gone; stopping") == 2


async def test_one_process_is_the_worker_itself(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    worker = start_worker("--processes", "1")
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        job = await producer.enqueue("record", kwargs={"n": 1}, queue="work")
        assert await job.result(timeout_s=10) == 1
        info = await job.status()
    assert info.worker is not None
    assert info.worker.endswith(f":{worker.pid}")
    assert "worker processes" not in worker.log()
