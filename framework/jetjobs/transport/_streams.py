"""Create-or-update of streams and consumers, with errors that say what to fix.

Every JetStream API call here goes through ``conn.violations.call``: a request the
NATS user may not make fails at once with a PermissionDenied naming the subject
(and a hint to provision first) instead of waiting for its timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import nats.js.errors
from nats.js.api import ConsumerConfig, StreamConfig, StreamInfo

from ..errors import ConfigError
from ._connection import Connection

_STREAM_IN_USE = 10058  # stream name already in use with a different configuration
_API = "$JS.API"


async def stream_info(conn: Connection, name: str) -> StreamInfo | None:
    """The stream's info; None when it does not exist."""
    try:
        return await conn.violations.call(f"{_API}.STREAM.INFO.{name}", conn.js.stream_info(name))
    except nats.js.errors.NotFoundError:
        return None


async def update_stream(conn: Connection, config: StreamConfig) -> None:
    """Apply ``config`` to the existing stream (nats-py errors pass through)."""
    await conn.violations.call(f"{_API}.STREAM.UPDATE.{config.name}", conn.js.update_stream(config))


async def ensure_stream(conn: Connection, config: StreamConfig, *, update: bool) -> None:
    """Create the stream; with ``update``, also bring an existing one to ``config``.

    Without ``update`` an existing stream is only looked up, so a service that finds
    everything provisioned needs no right to create streams.
    """
    name = config.name or ""
    if not update and await stream_info(conn, name) is not None:
        return
    try:
        with conn.reaching():
            await conn.violations.call(f"{_API}.STREAM.CREATE.{name}", conn.js.add_stream(config))
        return
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != _STREAM_IN_USE:
            raise ConfigError(f"cannot create stream {name}: {exc.description}") from None
    if not update:
        return
    try:
        await update_stream(conn, config)
    except nats.js.errors.APIError as exc:
        raise ConfigError(f"cannot update stream {name}: {exc.description}") from None


async def ensure_shared_stream(conn: Connection, config: StreamConfig) -> None:
    """Create a stream several queues share; an existing one keeps its settings but is raised
    to ``config.num_replicas`` if it has fewer (the first queue may have been R1)."""
    name = config.name or ""
    info = await stream_info(conn, name)
    if info is None:
        await ensure_stream(conn, config, update=False)
        return
    wanted = config.num_replicas or 1
    if (info.config.num_replicas or 1) >= wanted:
        return
    info.config.num_replicas = wanted
    try:
        await update_stream(conn, info.config)
    except nats.js.errors.APIError as exc:
        raise ConfigError(f"cannot raise stream {name} to {wanted} replicas: {exc.description}") from None
    await await_replicas(conn, name, wanted)


async def await_replicas(conn: Connection, name: str, wanted: int) -> None:
    """Wait until stream ``name`` has a leader and ``wanted`` peers (after a scale-up:
    consumers cannot be added before), for at most a few request timeouts."""
    deadline = time.monotonic() + 4 * conn.settings.request_timeout_s
    while True:
        info = await stream_info(conn, name)
        if info is None:
            raise ConfigError(f"stream {name} does not exist")
        cluster = info.cluster
        peers = list(cluster.replicas or []) if cluster is not None else []
        if cluster is not None and cluster.leader and len(peers) + 1 >= wanted:
            return
        if time.monotonic() > deadline:
            raise ConfigError(f"stream {name} did not reach {wanted} replicas in time")
        await asyncio.sleep(0.1)


async def check_stream(conn: Connection, stream: str, consumers: Sequence[str] = ()) -> None:
    """Raise ConfigError naming the first of ``stream`` and its ``consumers`` that is missing."""
    if await stream_info(conn, stream) is None:
        raise ConfigError(f"stream {stream} does not exist")
    for consumer in consumers:
        try:
            info = conn.js.consumer_info(stream, consumer)
            await conn.violations.call(f"{_API}.CONSUMER.INFO.{stream}.{consumer}", info)
        except nats.js.errors.NotFoundError:
            raise ConfigError(f"consumer {consumer} of stream {stream} does not exist") from None


async def ensure_consumer(conn: Connection, stream: str, config: ConsumerConfig) -> None:
    """Create the consumer, or update it to ``config`` (one create-or-update request)."""
    create = f"{_API}.CONSUMER.CREATE.{stream}.{config.name}"
    try:
        await conn.violations.call([create, f"{create}.>"], conn.js.add_consumer(stream, config))
    except nats.js.errors.APIError as exc:
        raise ConfigError(f"cannot create or update consumer {config.name} on {stream}: {exc.description}") from None
