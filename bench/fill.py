"""A producer process for the tracing comparison: ``python -m bench.fill``.

Enqueues ``BENCH_N`` jobs with ``app.enqueue_many`` (``BENCH_CHUNK`` per call) to
``JETJOBS_NATS_URL``, tracing on or off by ``BENCH_TRACING`` (see bench.tasks), and
prints one JSON line: the rate, this process's CPU per job and the spans it exported. Its own process,
because an OpenTelemetry tracer provider, once installed, stays for the process.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from bench._workload import payload
from bench.tasks import DroppingExporter, app, noop_task
from jetjobs import telemetry


async def fill(n: int, chunk: int) -> dict[str, float]:
    async with app:
        await app.enqueue_many([noop_task.call(payload(-1))])  # creates the stream, off the clock
        cpu, wall = time.process_time(), time.perf_counter()
        for low in range(0, n, chunk):
            await app.enqueue_many([noop_task.call(payload(i)) for i in range(low, min(low + chunk, n))])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    telemetry.shutdown()  # flushes the spans still in the batch processor
    return {"rate": n / wall, "seconds": wall, "client_cpu_us": 1e6 * cpu / n, "spans": DroppingExporter.spans}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(fill(int(os.environ["BENCH_N"]), int(os.environ["BENCH_CHUNK"])))))
