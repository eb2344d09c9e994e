"""Streams, consumers and buckets, created idempotently from the declarations.

Workers and ``jetjobs provision`` create-or-update (they own the queue's settings);
producers only create what is missing, so a producer with default settings never
overwrites a worker's ``max_length``.
"""

from __future__ import annotations

import logging

import nats.js.errors
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from .._names import Names
from .._settings import QueueConfig, Settings
from ..errors import ConfigError
from ._connection import Connection
from ._delayed import ensure_delayed_stream, ensure_forwarder
from ._kvstore import KeyValueStore
from ._streams import await_replicas, check_stream, ensure_consumer, ensure_stream, stream_info, update_stream

log = logging.getLogger("jetjobs.transport")

_ADVISORY_MAX_AGE_S = 7 * 86_400
_MOVER_ACK_WAIT_S = 30.0


def queue_stream_config(names: Names, queue: str, cfg: QueueConfig) -> StreamConfig:
    return StreamConfig(
        name=names.stream(queue),
        description=f"jetjobs queue {queue}",
        subjects=[names.subject(queue, p) for p in cfg.ordered_priorities()],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=cfg.replicas,
        # A full bounded queue must refuse new jobs, never drop queued ones:
        # discard=new makes the server reject the publish (err 10077).
        max_msgs=cfg.max_length if cfg.max_length is not None else -1,
        discard=DiscardPolicy.NEW,
        duplicate_window=cfg.duplicate_window_s,
        allow_direct=True,
    )


def queue_consumer_config(names: Names, queue: str, priority: str, cfg: QueueConfig) -> ConsumerConfig:
    consumer = names.consumer(queue, priority)  # type: ignore[arg-type]
    return ConsumerConfig(
        name=consumer,
        durable_name=consumer,
        description=f"jetjobs workers of {queue} ({priority})",
        filter_subject=names.subject(queue, priority),  # type: ignore[arg-type]
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=cfg.ack_wait_s,
        max_deliver=cfg.max_deliveries,
        # Cluster-wide cap on unacknowledged jobs, enforced by the server across replicas.
        max_ack_pending=cfg.max_in_flight if cfg.max_in_flight is not None else -1,
        max_waiting=512,
    )


async def ensure_queue(conn: Connection, queue: str, cfg: QueueConfig, *, update: bool) -> None:
    """Make sure the queue's stream exists (and, with ``update``, matches ``cfg``) plus its consumers."""
    await ensure_stream(conn, queue_stream_config(conn.names, queue, cfg), update=update)
    if not update:
        return
    for priority in cfg.ordered_priorities():
        await ensure_consumer(conn, conn.names.stream(queue), queue_consumer_config(conn.names, queue, priority, cfg))
    await _ensure_advisory_capture(conn, queue, cfg.replicas)
    await ensure_delayed_stream(conn, replicas=cfg.replicas)
    await ensure_forwarder(conn, queue)


async def check_queue(conn: Connection, queue: str, cfg: QueueConfig) -> None:
    """Raise ConfigError unless everything ``ensure_queue`` creates for ``queue`` exists
    (what a worker that does not provision needs), plus the dead-letter stream."""
    names = conn.names
    try:
        consumers = [names.consumer(queue, p) for p in cfg.ordered_priorities()]
        await check_stream(conn, names.stream(queue), consumers)
        await check_stream(conn, names.advisory_stream, [names.mover_consumer(queue)])
        await check_stream(conn, names.delayed_stream, [names.forwarder_consumer(queue)])
        await check_stream(conn, names.dlq_stream)
    except ConfigError as exc:
        raise ConfigError(
            f"queue {queue!r} is not provisioned: {exc}; run 'jetjobs provision' first "
            "(or let workers provision: provision_on_start=true)"
        ) from None


async def ensure_stream_exists(conn: Connection, queue: str, cfg: QueueConfig) -> None:
    """Create the queue's stream if it is missing; never change an existing one."""
    await ensure_stream(conn, queue_stream_config(conn.names, queue, cfg), update=False)


async def ensure_dlq(conn: Connection, settings: Settings) -> None:
    names = conn.names
    config = StreamConfig(
        name=names.dlq_stream,
        description="jetjobs dead letters",
        subjects=[names.dlq_subjects],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=settings.dlq_replicas,
        max_age=settings.dlq_max_age_s,
        duplicate_window=120,
        allow_direct=True,
    )
    await ensure_stream(conn, config, update=True)


async def ensure_status_bucket(conn: Connection, settings: Settings) -> None:
    await KeyValueStore(conn, conn.names.status_bucket).ensure(
        description="jetjobs job status and results", replicas=settings.status_replicas, ttl_s=settings.result_ttl_s
    )


async def ensure_workers_bucket(conn: Connection, settings: Settings, ttl_s: float) -> None:
    """The worker presence bucket (records expire after ``ttl_s`` without a beat)."""
    await KeyValueStore(conn, conn.names.workers_bucket).ensure(
        description="jetjobs worker presence", replicas=settings.status_replicas, ttl_s=ttl_s
    )


async def _ensure_advisory_capture(conn: Connection, queue: str, replicas: int) -> None:
    """Capture the queue's MAX_DELIVERIES advisories durably and give them a mover consumer.

    Advisories are plain NATS messages: without a stream, one fired while no
    worker listens would be lost and its message would stay stuck in the
    WorkQueue stream. One stream per namespace lists each queue's subject;
    concurrent services may race on that list, so re-read and retry until ours is in.
    It has the queue's replicas (raised, never lowered, when a queue with more comes).
    """
    names = conn.names
    subject = names.max_deliveries_advisory(queue)
    for _ in range(5):
        info = await stream_info(conn, names.advisory_stream)
        if info is not None:
            subjects = list(info.config.subjects or [])
            fewer = (info.config.num_replicas or 1) < replicas
            if subject in subjects and not fewer:
                break
            if subject not in subjects:
                info.config.subjects = [*subjects, subject]
            if fewer:
                info.config.num_replicas = replicas
            try:
                await update_stream(conn, info.config)
            except nats.js.errors.NotFoundError:
                continue  # deleted meanwhile: created on the next round
            if fewer:
                await await_replicas(conn, names.advisory_stream, replicas)
        else:
            await ensure_stream(
                conn,
                StreamConfig(
                    name=names.advisory_stream,
                    description="jetjobs MAX_DELIVERIES advisories, moved to the DLQ",
                    subjects=[subject],
                    retention=RetentionPolicy.WORK_QUEUE,
                    storage=StorageType.FILE,
                    num_replicas=replicas,
                    max_age=_ADVISORY_MAX_AGE_S,
                ),
                update=False,
            )
    else:
        raise ConfigError(f"could not add {subject} to stream {names.advisory_stream}")
    mover = names.mover_consumer(queue)
    await ensure_consumer(
        conn,
        names.advisory_stream,
        ConsumerConfig(
            name=mover,
            durable_name=mover,
            description=f"jetjobs dead-letter mover of {queue}",
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=_MOVER_ACK_WAIT_S,
            max_deliver=-1,
        ),
    )
