"""Profile the worker's per-job path in one process (how docs/performance.md was made).

    .venv/bin/python -m bench.profile                  # 20,000 no-op jobs, cProfile, top 40 by own time
    .venv/bin/python -m bench.profile --n 50000 --sort cumulative --top 60
    .venv/bin/python -m bench.profile --no-store       # the task with store_result=False
    .venv/bin/python -m bench.profile --tracing        # tracing on, spans dropped
    .venv/bin/python -m bench.profile --no-cprofile --n 100000   # for a sampling profiler, e.g.
        py-spy record -r 1000 -d 5 -f raw -o spy.txt --pid <pid printed once the queue is filled>

A fresh nats-server; the queue is filled with ``app.enqueue_many``; then a Worker runs
in this process until every job's handler has started. Printed: jobs/s, this process's
CPU per job and the nats-server's CPU per job over the drain only (the fill is not
profiled). CPU per job is the steadier number on a shared machine: other processes
slow the drain down, but take little from its CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import time
from dataclasses import dataclass
from typing import Any

from jetjobs import App, Worker, telemetry
from jetjobs.testing import NatsServer

from ._meters import cpu_seconds
from .tasks import DroppingExporter


@dataclass(frozen=True)
class Options:
    n: int
    store: bool
    tracing: bool
    sort: str
    top: int
    cprofile: bool


async def drain(server: NatsServer, opts: Options) -> None:
    if opts.tracing:
        os.environ["OTEL_METRICS_EXPORTER"] = "none"  # traces only, as bench/tasks.py
        telemetry.configure("bench", span_exporter=DroppingExporter())
    app = App("bench", nats_url=server.url)
    done = asyncio.Event()
    seen = 0

    @app.task(queue="bench", name="noop", store_result=opts.store)
    async def noop(payload: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1
        if seen == opts.n:
            done.set()

    async with app:
        for low in range(0, opts.n, 1000):
            await app.enqueue_many([noop.call({"i": i}) for i in range(low, min(low + 1000, opts.n))])
    print(f"filled {opts.n:,} jobs; draining (pid {os.getpid()})", flush=True)
    worker = Worker(app, queues=["bench"])
    profile = cProfile.Profile()
    runner = asyncio.create_task(worker.run())
    await worker.started.wait()
    started, cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server.pid or 0)
    if opts.cprofile:
        profile.enable()
    await done.wait()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    server_cpu = cpu_seconds(server.pid or 0) - server_cpu
    await asyncio.sleep(0.2)  # the last settles
    profile.disable()
    worker.request_stop()
    await runner
    per_job = 1e6 / opts.n
    print(
        f"{opts.n:,} jobs in {took:.2f}s = {opts.n / took:,.0f} jobs/s, {cpu * per_job:.1f} µs CPU per job "
        f"(server {server_cpu * per_job:.1f} µs){' under cProfile' if opts.cprofile else ''}\n"
    )
    if opts.cprofile:
        pstats.Stats(profile).sort_stats(opts.sort).print_stats(opts.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--no-store", action="store_true", help="store_result=False on the task")
    parser.add_argument("--tracing", action="store_true", help="tracing on, spans dropped")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative, ncalls...)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--no-cprofile", action="store_true", help="no cProfile (for a sampling profiler)")
    args = parser.parse_args()
    opts = Options(args.n, not args.no_store, args.tracing, args.sort, args.top, not args.no_cprofile)
    with NatsServer() as server:
        asyncio.run(drain(server, opts))


if __name__ == "__main__":
    main()
