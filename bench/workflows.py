"""Workflow overhead next to plain jetjobs jobs, in one run (part of ``make bench``).

    .venv/bin/python bench/workflows.py [--width 1000] [--chain 10] [--samples 200]

- fan-in: a workflow of ``width`` no-op steps joined by one callback, time from
  ``execute_workflow`` to the callback's end, divided by the time one worker
  takes to drain ``width`` plain jobs (enqueued in bulk) — target <= 1.5x;
- chain: a workflow of ``chain`` no-op steps in a row, end to end, divided by
  ``chain`` x the p50 latency of one plain job (enqueue -> result) — target <= 2x;
- chord: a canvas chord of ``width`` no-op members, time to the callback, divided by
  the same plain drain — target <= 1.5x;
- BatchTask: ``items`` items in chunks of 100, items/s next to the same items as plain jobs.

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

from jetjobs import App, BatchTask, Worker, chord  # noqa: E402
from jetjobs.testing import NatsServer  # noqa: E402
from jetjobs.workflow import StepRetry  # noqa: E402

calls: Counter[str] = Counter()


def build(app: App, width: int, chain: int) -> None:
    @app.task(queue="wf", max_retries=1)
    async def noop(i: int = 0) -> int:
        calls["noop"] += 1
        return i

    @app.task(queue="wf")
    async def callback(values: list[int] | None = None) -> str:
        calls["callback"] += 1
        return "done"

    @app.task(queue="wf")
    async def chunk(items: list[int]) -> list[int]:
        calls["items"] += len(items)
        return items

    fan = app.workflow("fan-in", version="1")
    for i in range(width):
        fan.step(f"p{i}", "noop", input={"i": i}, retry=StepRetry(max_attempts=1))
    fan.step("callback", "callback", depends_on=[f"p{i}" for i in range(width)])
    line = app.workflow("chain", version="1")
    for i in range(chain):
        line.step(f"s{i}", "noop", depends_on=[f"s{i - 1}"] if i else [], input={"i": i})


async def wait_for(key: str, count: int) -> None:
    while calls[key] < count:  # noqa: ASYNC110  (a counter bumped by the in-process worker)
        await asyncio.sleep(0.001)


async def main(width: int, chain: int, samples: int, items: int) -> None:
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
            await wait_for("noop", 10)
            calls.clear()
            # Enqueued first, then drained (as the plain drain benchmark does); done when all ran.
            t0 = time.perf_counter()
            await producer.enqueue_many([noop.call(i) for i in range(width)])
            await wait_for("noop", width)
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
            # chord (canvas)
            members = [noop.si(i) for i in range(width)]
            t0 = time.perf_counter()
            run = await producer.enqueue(chord(members, producer.tasks["callback"].s()))
            await run.result(timeout_s=300)
            chord_s = time.perf_counter() - t0
            # BatchTask vs plain jobs over the same items
            chunk_task = producer.tasks["chunk"]
            calls["items"] = 0
            t0 = time.perf_counter()
            await BatchTask(producer, chunk_task, batch_size=100).run(list(range(items)), timeout_s=300)
            batch_s = time.perf_counter() - t0
            calls["noop"] = 0
            t0 = time.perf_counter()
            await producer.enqueue_many([noop.call(i) for i in range(items)])
            await wait_for("noop", items)
            plain_items_s = time.perf_counter() - t0
        worker.request_stop()
        await runner
    fan_ratio = fan_s / drain_s
    chain_ratio = chain_s / (chain * p50)
    chord_ratio = chord_s / drain_s
    print(f"{'workflow figure':<46} {'value':>10} {'baseline':>10} {'ratio':>7} {'target':>7}")
    print(
        f"{f'fan-in of {width} to one callback (s)':<46} {fan_s:>10.3f} {drain_s:>10.3f} {fan_ratio:>6.2f}x {'1.5x':>7}"
    )
    print(
        f"{f'chain of {chain} steps, median of 5 (ms)':<46} {chain_s * 1000:>10.1f} "
        f"{chain * p50 * 1000:>10.1f} {chain_ratio:>6.2f}x {'2.0x':>7}"
    )
    print(
        f"{f'chord of {width} (canvas) to its callback (s)':<46} {chord_s:>10.3f} {drain_s:>10.3f} "
        f"{chord_ratio:>6.2f}x {'1.5x':>7}"
    )
    batch_rate, plain_rate = items / batch_s, items / plain_items_s
    print(
        f"{f'BatchTask, {items} items in chunks of 100 (items/s)':<46} {batch_rate:>10.0f} "
        f"{plain_rate:>10.0f} {batch_rate / plain_rate:>6.2f}x {'-':>7}"
    )
    print(f"callbacks fired: {calls['callback']} (must be 2: fan-in and chord); plain job p50 {p50 * 1000:.2f} ms")
    verdict = {"fan-in": fan_ratio <= 1.5, "chain": chain_ratio <= 2.0, "chord": chord_ratio <= 1.5}
    print("   ".join(f"{k}: {'PASS' if ok else 'FAIL'}" for k, ok in verdict.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.width, args.chain, args.samples, args.items))
