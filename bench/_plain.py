"""The plain nats-py 2.16 side: what a hand-written JetStream producer and consumer reach.

Each function gets a fresh nats-server and returns its measurement.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from jetjobs.testing import NatsServer

from ._meters import CpuMeter, cpu_seconds
from ._procs import child_env, child_process
from ._reports import Latency, drain_result, measure_latency, report_inbox
from ._workload import STREAM, STREAM_SUBJECTS, SUBJECT, plain_message

BULK_WINDOW = 512
CONSUMER = [sys.executable, "-m", "bench.plain_consumer"]


async def _connect(url: str) -> Client:
    return await nats.connect(url, name="bench-plain")


async def _make_stream(js: JetStreamContext) -> None:
    # The stream jetjobs provisions for a queue: WorkQueue, file storage, 2-minute dedupe window.
    await js.add_stream(
        StreamConfig(
            name=STREAM,
            subjects=STREAM_SUBJECTS,
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            discard=DiscardPolicy.NEW,
            duplicate_window=120.0,
            allow_direct=True,
        )
    )


async def _publish_window(js: JetStreamContext, start: int, stop: int) -> None:
    """publish_async with at most BULK_WINDOW acks in flight; raise if any publish failed."""
    futures = []
    for i in range(start, stop):
        body, headers = plain_message(i)
        futures.append(await js.publish_async(SUBJECT, body, headers=headers))
    await js.publish_async_completed()
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} plain publishes failed, e.g. {failed[0]!r}")


async def enqueue_one(server: NatsServer, n: int, warmup: int) -> dict[str, float]:
    """Awaited ``js.publish`` one at a time."""
    assert server.pid is not None
    nc = await _connect(server.url)
    try:
        js = nc.jetstream()
        await _make_stream(js)
        for i in range(-warmup, 0):
            body, headers = plain_message(i)
            await js.publish(SUBJECT, body, headers=headers)
        with CpuMeter(server.pid, n) as meter:
            for i in range(n):
                body, headers = plain_message(i)
                await js.publish(SUBJECT, body, headers=headers)
        return meter.result()
    finally:
        await nc.close()


async def enqueue_bulk(server: NatsServer, n: int, warmup: int) -> dict[str, float]:
    """``js.publish_async`` with a window of BULK_WINDOW, until every ack is in."""
    assert server.pid is not None
    nc = await _connect(server.url)
    try:
        js = nc.jetstream(publish_async_max_pending=BULK_WINDOW)
        await _make_stream(js)
        await _publish_window(js, -warmup, 0)
        with CpuMeter(server.pid, n) as meter:
            await _publish_window(js, 0, n)
        return meter.result()
    finally:
        await nc.close()


async def drain(server: NatsServer, n: int) -> dict[str, float]:
    """Pre-fill n jobs, then one consumer process: fetch(100) + ack(); rate first→last handler start."""
    assert server.pid is not None
    nc = await _connect(server.url)
    try:
        js = nc.jetstream(publish_async_max_pending=BULK_WINDOW)
        await _make_stream(js)
        await _publish_window(js, 0, n)
    finally:
        await nc.close()
    with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
        async with report_inbox() as inbox:
            env = child_env(server.url, report_addr=inbox.addr, expect=str(n))
            server_cpu = cpu_seconds(server.pid)
            with child_process([*CONSUMER, "drain"], env, Path(tmp) / "consumer.log") as child:
                report = await inbox.next(child, timeout_s=60 + n / 500)
                server_cpu = cpu_seconds(server.pid) - server_cpu
    return drain_result(report, server_cpu)


async def latency(server: NatsServer, samples: int, warmup: int, gap_s: float) -> Latency:
    """One job in flight: publish → handler start in a consumer process doing fetch(1) in a loop."""
    nc = await _connect(server.url)
    try:
        js = nc.jetstream()
        await _make_stream(js)

        async def send(i: int) -> None:
            body, headers = plain_message(i)
            await js.publish(SUBJECT, body, headers=headers)

        with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
            async with report_inbox() as inbox:
                env = child_env(server.url, report_addr=inbox.addr)
                with child_process([*CONSUMER, "latency"], env, Path(tmp) / "consumer.log") as child:
                    return await measure_latency(send, inbox, child, samples, warmup, gap_s)
    finally:
        await nc.close()
