"""The app run by end-to-end tests in separate worker processes.

Each worker process appends "<event> <job id> <pid> <attempt> <time>" lines to a
file of its own in $E2E_RECORD_DIR, so a test can count what ran where.
"""

from __future__ import annotations

import asyncio
import os
import time

from jetjobs import App, current_job

app = App("e2e")
app.queue("work", ack_wait_s=2)
app.queue("capped", max_in_flight=3, concurrency=8)


def _record(event: str) -> None:
    directory = os.environ.get("E2E_RECORD_DIR")
    if not directory:
        return
    job = current_job()
    line = f"{event} {job.id} {os.getpid()} {job.attempt} {time.time():.6f}\n"
    with open(os.path.join(directory, f"{os.getpid()}.log"), "a") as out:
        out.write(line)


@app.task(queue="work", max_retries=5, retry_delay_s=0.2)
async def record(n: int, sleep_s: float = 0.0) -> int:
    """Records its start and end; sleeps to simulate work."""
    _record("start")
    await asyncio.sleep(sleep_s)
    _record("done")
    return n


@app.task(queue="capped")
async def capped(sleep_s: float) -> None:
    """Work on a queue with a cluster-wide in-flight cap of 3."""
    _record("start")
    await asyncio.sleep(sleep_s)
    _record("done")


@app.task(queue="work", max_retries=0)
async def fail(message: str) -> None:
    """Always fails: ends in the DLQ."""
    raise RuntimeError(message)
