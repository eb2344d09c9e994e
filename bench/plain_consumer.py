"""The plain nats-py consumer process of the bench (the baseline the worker is compared with).

    python -m bench.plain_consumer drain    # fetch(100) + msg.ack(), report first/last start
    python -m bench.plain_consumer latency  # fetch(1) with a request always outstanding

Configured like bench/tasks.py: JETJOBS_NATS_URL, BENCH_REPORT_ADDR, BENCH_EXPECT.
The "handler" starts when fetch() hands a message to user code; it then decodes
the JSON body, as any handler of a dict argument must.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable

import nats
import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench._reports import DrainReport, udp_sender
from bench._workload import PLAIN_DURABLE, STREAM, SUBJECT


async def _subscribe(js: JetStreamContext) -> JetStreamContext.PullSubscription:
    # The same consumer settings jetjobs provisions (no max_ack_pending cap, 30 s ack wait).
    config = ConsumerConfig(
        durable_name=PLAIN_DURABLE,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=30.0,
        max_deliver=50,
        max_ack_pending=-1,
        max_waiting=512,
    )
    return await js.pull_subscribe(SUBJECT, durable=PLAIN_DURABLE, stream=STREAM, config=config)


async def drain(js: JetStreamContext, expect: int, send: Callable[[str], None]) -> None:
    sub = await _subscribe(js)
    report = DrainReport(expect, send)
    while report.count < expect:
        try:
            msgs = await sub.fetch(100, timeout=1.0)
        except nats.errors.TimeoutError:
            continue
        for msg in msgs:
            report.started(time.time())
            json.loads(msg.data)
            await msg.ack()


async def latency(js: JetStreamContext, send: Callable[[str], None]) -> None:
    sub = await _subscribe(js)
    while True:
        try:
            msgs = await sub.fetch(1, timeout=5.0)
        except nats.errors.TimeoutError:
            continue
        started = time.time()
        body = json.loads(msgs[0].data)
        send(f"{body['kwargs']['payload']['i']} {started!r}")
        await msgs[0].ack()


async def main(mode: str) -> None:
    nc = await nats.connect(os.environ["JETJOBS_NATS_URL"], name="bench-plain-consumer")
    send = udp_sender(os.environ["BENCH_REPORT_ADDR"])
    try:
        if mode == "drain":
            await drain(nc.jetstream(), int(os.environ["BENCH_EXPECT"]), send)
        else:
            await latency(nc.jetstream(), send)
    finally:
        await nc.close()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("drain", "latency"):
        sys.exit("usage: python -m bench.plain_consumer drain|latency")
    asyncio.run(main(sys.argv[1]))
