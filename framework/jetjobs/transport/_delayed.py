"""Delayed jobs as native JetStream message schedules (``Nats-Schedule: @at``, server 2.12+).

A delayed job is published to its own schedule subject in the delayed stream;
the server fires it at its time onto the queue's "due" subject (same stream, as
NATS requires), and a forwarder in the queue's workers moves it into the queue.
Delays cost no worker memory and survive restarts with the stream.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

from .._wire import H_MSG_ID
from ..errors import JetjobsError
from ._connection import Connection
from ._publish import Outbound
from ._streams import ensure_consumer, ensure_stream

H_SCHEDULE = "Nats-Schedule"
H_SCHEDULE_TARGET = "Nats-Schedule-Target"
_FORWARDER_ACK_WAIT_S = 30.0


async def ensure_delayed_stream(conn: Connection, *, replicas: int = 1) -> None:
    names = conn.names
    config = StreamConfig(
        name=names.delayed_stream,
        description="jetjobs delayed jobs (message schedules)",
        subjects=[names.delayed_subjects],
        # WorkQueue: a forwarded job is removed when acked. No consumer filters the
        # schedule subjects (that would delete the schedules), only the "due" ones.
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=replicas,
        allow_msg_schedules=True,
        duplicate_window=120,
        allow_direct=True,
    )
    await ensure_stream(conn, config, update=False)


async def ensure_forwarder(conn: Connection, queue: str, *, strict: bool = True) -> None:
    names = conn.names
    consumer = names.forwarder_consumer(queue)
    await ensure_consumer(
        conn,
        names.delayed_stream,
        ConsumerConfig(
            name=consumer,
            durable_name=consumer,
            description=f"jetjobs: moves due delayed jobs into {queue}",
            filter_subject=names.delayed_due_all(queue),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=_FORWARDER_ACK_WAIT_S,
            max_deliver=-1,
        ),
        strict=strict,
    )


def schedule_headers(out: Outbound, *, job_id: str, at: datetime, due_subject: str) -> dict[str, str]:
    """The job's own headers plus the schedule: fire at ``at`` onto ``due_subject``."""
    headers = dict(out.headers)
    headers[H_MSG_ID] = job_id  # dedupes the schedule publish; the server strips it when firing
    headers[H_SCHEDULE] = "@at " + at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    headers[H_SCHEDULE_TARGET] = due_subject
    return headers


async def cancel_delayed(conn: Connection, queue: str, job_id: str) -> bool:
    """Remove a job's schedule before it fires; False when it already fired (or never existed)."""
    stream = conn.names.delayed_stream
    request = json.dumps({"filter": conn.names.delayed_at(queue, job_id)}).encode()
    try:
        reply = await conn.nc.request(
            f"$JS.API.STREAM.PURGE.{stream}", request, timeout=conn.settings.request_timeout_s
        )
    except nats.errors.NoRespondersError:
        return False
    answer = json.loads(reply.data)
    if "error" in answer:
        if answer["error"].get("err_code") == 10059:  # stream not found: nothing was ever delayed
            return False
        raise JetjobsError(f"cannot cancel job {job_id}: {answer['error'].get('description')}")
    return int(answer.get("purged", 0)) > 0
