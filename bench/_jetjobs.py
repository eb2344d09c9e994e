"""The jetjobs side, through the public API only, with default settings.

Each function gets a fresh nats-server and returns its measurement.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from jetjobs import App, Task
from jetjobs.testing import NatsServer

from ._meters import CpuMeter, cpu_seconds
from ._procs import child_env, child_process, jetjobs_worker_command
from ._reports import Latency, drain_result, measure_latency, report_inbox
from ._workload import payload
from .tasks import build_app

WORKER = jetjobs_worker_command("bench.tasks:app")


async def enqueue_one(server: NatsServer, n: int, warmup: int) -> dict[str, float]:
    """Awaited ``task.enqueue({...})`` one at a time, no worker running."""
    assert server.pid is not None
    app, task = build_app(nats_url=server.url)
    async with app:
        # The warm-up also lets the first enqueue create the queue's stream, off the clock.
        for i in range(-warmup, 0):
            await task.enqueue(payload(i))
        with CpuMeter(server.pid, n) as meter:
            for i in range(n):
                await task.enqueue(payload(i))
        return meter.result()


async def _enqueue_range(app: App, task: Task[..., Any], start: int, stop: int, chunk: int) -> None:
    """``app.enqueue_many`` with ``chunk`` jobs per call; building the requests is part of the work."""
    for low in range(start, stop, chunk):
        high = min(low + chunk, stop)
        await app.enqueue_many([task.call(payload(i)) for i in range(low, high)])


async def enqueue_bulk(server: NatsServer, n: int, warmup: int, chunk: int) -> dict[str, float]:
    """``app.enqueue_many`` in chunks, no worker running, until the last call returns."""
    assert server.pid is not None
    app, task = build_app(nats_url=server.url)
    async with app:
        await _enqueue_range(app, task, -warmup, 0, chunk)
        with CpuMeter(server.pid, n) as meter:
            await _enqueue_range(app, task, 0, n, chunk)
        return meter.result()


async def drain(server: NatsServer, n: int, chunk: int, *, store_result: bool = True) -> dict[str, float]:
    """Pre-fill n jobs, then ``jetjobs worker bench.tasks:app``; rate between first and last handler start.

    ``store_result=False``: the worker's task does not store results (``BENCH_STORE=0``).
    """
    assert server.pid is not None
    app, task = build_app(nats_url=server.url)
    async with app:
        await _enqueue_range(app, task, 0, n, chunk)
    with tempfile.TemporaryDirectory(prefix="bench-jetjobs-") as tmp:
        async with report_inbox() as inbox:
            env = child_env(server.url, report_addr=inbox.addr, mode="drain", expect=str(n))
            env["BENCH_STORE"] = "1" if store_result else "0"
            server_cpu = cpu_seconds(server.pid)
            with child_process(WORKER, env, Path(tmp) / "worker.log") as child:
                report = await inbox.next(child, timeout_s=60 + n / 200)
                server_cpu = cpu_seconds(server.pid) - server_cpu
    return drain_result(report, server_cpu)


async def latency(server: NatsServer, samples: int, warmup: int, gap_s: float) -> Latency:
    """One job in flight: ``task.enqueue`` → handler start in a warm ``jetjobs worker`` process."""
    app, task = build_app(nats_url=server.url)
    async with app:

        async def send(i: int) -> None:
            await task.enqueue(payload(i))

        with tempfile.TemporaryDirectory(prefix="bench-jetjobs-") as tmp:
            async with report_inbox() as inbox:
                env = child_env(server.url, report_addr=inbox.addr, mode="latency")
                with child_process(WORKER, env, Path(tmp) / "worker.log") as child:
                    return await measure_latency(send, inbox, child, samples, warmup, gap_s)
