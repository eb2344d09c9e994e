"""Streams, consumers and buckets, created idempotently from the declarations.

Workers and ``jetjobs provision`` create-or-update (they own the queue's settings);
producers only create what is missing, so a producer with default settings never
overwrites a worker's ``max_length``.
"""

from __future__ import annotations

import contextlib
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
from ._streams import ensure_consumer, ensure_stream, stream_info

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


async def ensure_queue(conn: Connection, queue: str, cfg: QueueConfig, *, update: bool, strict: bool = True) -> None:
    """Make sure the queue's stream exists (and, with ``update``, matches ``cfg``) plus its consumers.

    ``strict=False`` (a worker starting): what exists but differs and this user may
    not update is logged instead of raised; what is missing must be created.
    """
    await ensure_stream(conn, queue_stream_config(conn.names, queue, cfg), update=update, strict=strict)
    if not update:
        return
    for priority in cfg.ordered_priorities():
        config = queue_consumer_config(conn.names, queue, priority, cfg)
        await ensure_consumer(conn, conn.names.stream(queue), config, strict=strict)
    await _ensure_advisory_capture(conn, queue, strict=strict)
    await ensure_delayed_stream(conn, replicas=cfg.replicas)
    await ensure_forwarder(conn, queue, strict=strict)


async def ensure_stream_exists(conn: Connection, queue: str, cfg: QueueConfig) -> None:
    """Create the queue's stream if it is missing; never change an existing one."""
    await ensure_stream(conn, queue_stream_config(conn.names, queue, cfg), update=False)


async def ensure_dlq(conn: Connection, settings: Settings, *, strict: bool = True) -> None:
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
    await ensure_stream(conn, config, update=True, strict=strict)


async def ensure_status_bucket(conn: Connection, settings: Settings) -> None:
    await KeyValueStore(conn, conn.names.status_bucket).ensure(
        description="jetjobs job status and results", replicas=settings.status_replicas, ttl_s=settings.result_ttl_s
    )


async def _ensure_advisory_capture(conn: Connection, queue: str, *, strict: bool) -> None:
    """Capture the queue's MAX_DELIVERIES advisories durably and give them a mover consumer.

    Advisories are plain NATS messages: without a stream, one fired while no
    worker listens would be lost and its message would stay stuck in the
    WorkQueue stream. One stream per namespace lists each queue's subject;
    concurrent services may race on that list, so re-read and retry until ours is in.
    """
    names = conn.names
    subject = names.max_deliveries_advisory(queue)
    for _ in range(5):
        info = await stream_info(conn, names.advisory_stream)
        if info is not None:
            subjects = list(info.config.subjects or [])
            if subject in subjects:
                break
            info.config.subjects = [*subjects, subject]
            update = f"$JS.API.STREAM.UPDATE.{names.advisory_stream}"
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await conn.violations.call(update, conn.js.update_stream(info.config))
        else:
            await ensure_stream(
                conn,
                StreamConfig(
                    name=names.advisory_stream,
                    description="jetjobs MAX_DELIVERIES advisories, moved to the DLQ",
                    subjects=[subject],
                    retention=RetentionPolicy.WORK_QUEUE,
                    storage=StorageType.FILE,
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
        strict=strict,
    )
