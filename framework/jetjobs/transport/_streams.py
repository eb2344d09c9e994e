"""Create-or-update of streams and consumers, with errors that say what to fix."""

from __future__ import annotations

import nats.js.errors
from nats.js.api import ConsumerConfig, StreamConfig

from ..errors import ConfigError
from ._connection import Connection

_STREAM_IN_USE = 10058  # stream name already in use with a different configuration


async def ensure_stream(conn: Connection, config: StreamConfig, *, update: bool) -> None:
    try:
        with conn.reaching():
            await conn.js.add_stream(config)
        return
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != _STREAM_IN_USE:
            raise ConfigError(f"cannot create stream {config.name}: {exc.description}") from None
    if not update:
        return
    try:
        await conn.js.update_stream(config)
    except nats.js.errors.APIError as exc:
        raise ConfigError(f"cannot update stream {config.name}: {exc.description}") from None


async def ensure_consumer(conn: Connection, stream: str, config: ConsumerConfig) -> None:
    try:
        await conn.js.add_consumer(stream, config)
    except nats.js.errors.APIError as exc:
        raise ConfigError(f"cannot create or update consumer {config.name} on {stream}: {exc.description}") from None
