"""Create-or-update of streams and consumers, with errors that say what to fix.

Every ensure looks the object up first and writes only when it is missing or
(when asked to update) differs from the wanted configuration. So a service whose
NATS user has no create rights (a least-privilege worker, see docs/security.md)
starts as soon as ``jetjobs provision`` has run, and a differing object it may
not update is a warning, not a failed start (``strict=False``).
"""

from __future__ import annotations

import logging

import nats.js.errors
from nats.js.api import ConsumerConfig, ConsumerInfo, StreamConfig, StreamInfo

from ..errors import ConfigError, PermissionDenied
from ._connection import Connection

log = logging.getLogger("jetjobs.transport")

_STREAM_IN_USE = 10058  # stream name already in use with a different configuration
_API = "$JS.API"


def differences(wanted: StreamConfig | ConsumerConfig, actual: StreamConfig | ConsumerConfig) -> list[str]:
    """The fields set in ``wanted`` whose value the server's copy does not have."""
    have = actual.as_dict()
    return sorted(k for k, v in wanted.as_dict().items() if have.get(k) != v)


async def stream_info(conn: Connection, name: str) -> StreamInfo | None:
    """The stream's info; None when it does not exist."""
    try:
        return await conn.violations.call(f"{_API}.STREAM.INFO.{name}", conn.js.stream_info(name))
    except nats.js.errors.NotFoundError:
        return None


async def ensure_stream(conn: Connection, config: StreamConfig, *, update: bool, strict: bool = True) -> None:
    """Create the stream if missing; with ``update``, bring an existing one to ``config``.

    ``strict=False``: an update this user may not make is logged, not raised.
    """
    name = str(config.name)
    info = await stream_info(conn, name)
    if info is None:
        try:
            await conn.violations.call(f"{_API}.STREAM.CREATE.{name}", conn.js.add_stream(config))
            return
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != _STREAM_IN_USE:
                raise ConfigError(f"cannot create stream {name}: {exc.description}") from None
            info = await stream_info(conn, name)  # created concurrently by another service
            if info is None:
                raise ConfigError(f"cannot create stream {name}: {exc.description}") from None
    if not update:
        return
    changed = differences(config, info.config)
    if not changed:
        return
    try:
        await conn.violations.call(f"{_API}.STREAM.UPDATE.{name}", conn.js.update_stream(config))
    except PermissionDenied as denied:
        if strict:
            raise
        _may_not_update("stream", name, changed, denied)
    except nats.js.errors.APIError as exc:
        raise ConfigError(f"cannot update stream {name}: {exc.description}") from None


async def consumer_info(conn: Connection, stream: str, consumer: str) -> ConsumerInfo | None:
    try:
        return await conn.violations.call(
            f"{_API}.CONSUMER.INFO.{stream}.{consumer}", conn.js.consumer_info(stream, consumer)
        )
    except nats.js.errors.NotFoundError:
        return None


async def ensure_consumer(conn: Connection, stream: str, config: ConsumerConfig, *, strict: bool = True) -> None:
    """Create the consumer, or update it when it differs from ``config``."""
    name = str(config.name)
    info = await consumer_info(conn, stream, name)
    changed = differences(config, info.config) if info is not None else []
    if info is not None and not changed:
        return
    try:
        create = f"{_API}.CONSUMER.CREATE.{stream}.{name}"
        await conn.violations.call([create, f"{create}.>"], conn.js.add_consumer(stream, config))
    except PermissionDenied as denied:
        if strict or info is None:
            raise
        _may_not_update("consumer", f"{stream}/{name}", changed, denied)
    except nats.js.errors.APIError as exc:
        raise ConfigError(f"cannot create or update consumer {name} on {stream}: {exc.description}") from None


def _may_not_update(kind: str, name: str, changed: list[str], denied: PermissionDenied) -> None:
    log.warning(
        "%s %s differs from this service's settings (%s) and this user may not update it (%s); "
        "run 'jetjobs provision' with provisioner rights to apply them",
        kind,
        name,
        ", ".join(changed),
        denied.subject,
    )
