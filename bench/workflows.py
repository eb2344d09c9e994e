"""Workflow overhead next to plain jetjobs jobs, in one run (part of ``make bench``).

    .venv/bin/python bench/workflows.py [--width 1000] [--chain 10] [--samples 200]

- fan-in: a workflow of ``width`` no-op steps joined by one callback, time from
  ``execute_workflow`` to the callback's end, divided by the time one worker
  takes to drain ``width`` plain jobs (enqueued in bulk) — target <= 1.5x;
- chain: a workflow of ``chain`` no-op steps in a row, end to end, divided by
  ``chain`` x the p50 latency of one plain job (enqueue -> result) — target <= 2x.

Both sides run on the same fresh embedded nats-server, one in-process worker
(concurrency 64), results stored. Prints a table and exits 0 (figures, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jetjobs import App, Worker  # noqa: E402
from jetjobs.testing import NatsServer  # noqa: E402
from jetjobs.workflow import StepRetry  # noqa: E402

calls: Counter[str] = Counter()


def build(app: App, width: int, chain: int) -> None:
    @app.task(queue="wf", max_retries=1)
    async def noop(i: int = 0) -> int:
        calls["noop"] += 1
        return i

    @app.task(queue="wf")
    async def callback() -> str:
        calls["callback"] += 1
        return "done"

    fan = app.workflow("fan-in", version="1")
    for i in range(width):
        fan.step(f"p{i}", "noop", input={"i": i}, retry=StepRetry(max_attempts=1))
    fan.step("callback", "callback", depends_on=[f"p{i}" for i in range(width)])
    line = app.workflow("chain", version="1")
    for i in range(chain):
        line.step(f"s{i}", "noop", depends_on=[f"s{i - 1}"] if i else [], input={"i": i})


async def main(width: int, chain: int, samples: int) -> None:
    with NatsServer() as server:
        worker_app = App("bench-worker", nats_url=server.url, queues={"wf": {"concurrency": 64}})
        producer = App("bench-producer", nats_url=server.url)
        build(worker_app, width, chain)
        build(producer, width, chain)
        worker = Worker(worker_app)
        runner = asyncio.create_task(worker.run())
        await worker.started.wait()
        async with producer:
            noop = producer.tasks["noop"]
            # plain: drain `width` jobs
            await producer.enqueue_many([noop.call(i) for i in range(10)])  # warm up
            while calls["noop"] < 10:
                await asyncio.sleep(0.001)
            calls.clear()
            # Enqueued first, then drained (as the plain drain benchmark does); done when all ran.
            t0 = time.perf_counter()
            await producer.enqueue_many([noop.call(i) for i in range(width)])
            while calls["noop"] < width:
                await asyncio.sleep(0.001)
            drain_s = time.perf_counter() - t0
            # plain latency p50
            lat = []
            for i in range(samples):
                t = time.perf_counter()
                job = await noop.enqueue(i)
                await job.result(timeout_s=30)
                lat.append(time.perf_counter() - t)
            p50 = statistics.median(lat)
            # fan-in
            t0 = time.perf_counter()
            run = await producer.execute_workflow("fan-in")
            await run.result(timeout_s=300)
            fan_s = time.perf_counter() - t0
            # chain
            chains = []
            for _ in range(5):
                t0 = time.perf_counter()
                run = await producer.execute_workflow("chain")
                await run.result(timeout_s=60)
                chains.append(time.perf_counter() - t0)
            chain_s = statistics.median(chains)
        worker.request_stop()
        await runner
    fan_ratio = fan_s / drain_s
    chain_ratio = chain_s / (chain * p50)
    print(f"{'workflow figure':<46} {'value':>10} {'baseline':>10} {'ratio':>7} {'target':>7}")
    print(
        f"{f'fan-in of {width} to one callback (s)':<46} {fan_s:>10.3f} {drain_s:>10.3f} {fan_ratio:>6.2f}x {'1.5x':>7}"
    )
    print(
        f"{f'chain of {chain} steps, median of 5 (ms)':<46} {chain_s * 1000:>10.1f} "
        f"{chain * p50 * 1000:>10.1f} {chain_ratio:>6.2f}x {'2.0x':>7}"
    )
    print(f"callbacks fired: {calls['callback']} (must be 1); plain job latency p50 {p50 * 1000:.2f} ms")
    print(f"fan-in:  {'PASS' if fan_ratio <= 1.5 else 'FAIL'}   chain: {'PASS' if chain_ratio <= 2.0 else 'FAIL'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.width, args.chain, args.samples))
