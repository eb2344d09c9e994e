"""The worker SIGKILL loop: worker processes (the real CLI) killed and replaced while jobs run.

Uses tests/apps/e2e.py (queue ``work``, ack_wait 2 s), whose task appends a line per
start and finish to a file per process, and tests/e2e/processes.py to start workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import tempfile
import time
from pathlib import Path

from tests.e2e.processes import WorkerProcess, events

from bench._chaos import Tally, queue_messages
from jetjobs import App, JobState

_QUEUE = "work"


def _rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6
    return 0.0


async def worker_kill_loop(url: str, *, jobs: int, kills: int, every_s: float = 1.5, sleep_s: float = 0.2) -> Tally:
    """One steady worker plus one that is SIGKILLed and replaced ``kills`` times while ``jobs``
    (each ``sleep_s`` long) are enqueued over the whole loop, so kills land on running jobs."""
    tally = Tally("worker SIGKILL loop")
    record_dir = Path(tempfile.mkdtemp(prefix="jetjobs-chaos-"))
    steady = WorkerProcess(url, record_dir)
    victims: list[WorkerProcess] = []
    app = App("chaos-producer", nats_url=url)
    try:
        await asyncio.to_thread(steady.wait_ready)
        tally.rss_mb = (_rss_mb(steady.pid), 0.0)
        async with app:
            began = time.monotonic()
            ids: list[str] = []
            pace = kills * (every_s + 1.0) / max(jobs, 1)
            producer = asyncio.create_task(_produce(app, jobs, sleep_s, pace, ids))
            for _ in range(kills):
                victim = WorkerProcess(url, record_dir)
                victims.append(victim)
                await asyncio.to_thread(victim.wait_ready)
                await asyncio.sleep(every_s)  # the victim works for a while: the fault's timing
                victim.signal(signal.SIGKILL)
                await asyncio.to_thread(victim.wait)
                tally.faults += 1
            await producer
            tally.enqueued = len(ids)
            await _until_final(app, ids, timeout_s=120)
            tally.rss_mb = (tally.rss_mb[0], _rss_mb(steady.pid))
            done: dict[str, int] = {}
            starts: dict[str, int] = {}
            finished = [began]
            for event in events(record_dir):
                starts[event.job_id] = starts.get(event.job_id, 0) + (event.kind == "start")
                if event.kind == "done":
                    done[event.job_id] = done.get(event.job_id, 0) + 1
                    finished.append(event.at - time.time() + time.monotonic())
            tally.notes.append(f"{sum(n > 1 for n in starts.values())} jobs started again after a kill")
            for job_id in ids:
                runs = done.get(job_id, 0)
                tally.executed += runs > 0
                tally.duplicated += runs > 1
                tally.lost += runs == 0
                state = (await app.status(job_id)).state
                tally.results_missing += state != JobState.SUCCEEDED
            tally.acknowledged = tally.enqueued - await queue_messages(app, _QUEUE)
            finished.sort()
            tally.longest_stall_s = max((b - a for a, b in itertools.pairwise(finished)), default=0.0)
    finally:
        for proc in [steady, *victims]:
            proc.stop()
    return tally


async def _produce(app: App, jobs: int, sleep_s: float, pace_s: float, ids: list[str]) -> None:
    for n in range(jobs):
        ids.append((await app.enqueue("record", [n, sleep_s], job_id=f"kill-{n}", queue=_QUEUE)).id)
        if n % 10 == 9:
            await asyncio.sleep(10 * pace_s)


async def _until_final(app: App, ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    remaining = set(ids)
    while remaining and time.monotonic() < deadline:
        for job_id in list(remaining)[:200]:
            if (await app.status(job_id)).state == JobState.SUCCEEDED:
                remaining.discard(job_id)
        if remaining:
            await asyncio.sleep(0.2)
