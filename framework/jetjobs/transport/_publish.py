"""Publishing job messages, one by one or in bulk, with errors translated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import nats.errors
import nats.js.errors

from ..errors import JetjobsError, QueueFull
from ._acks import PublishFailed
from ._connection import Connection

_MAX_MSGS_EXCEEDED = 10077
_MAX_BYTES_EXCEEDED = 10078


class StreamMissing(JetjobsError):
    """No stream listens on the subject (the queue was never provisioned)."""


@dataclass(frozen=True, slots=True)
class Outbound:
    """A fully encoded job message."""

    queue: str
    subject: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Published:
    seq: int
    duplicate: bool


async def publish(conn: Connection, out: Outbound) -> Published:
    """Publish and wait for the stream's acknowledgement."""
    try:
        reply = await conn.acks.publish(out.subject, out.body, out.headers)
    except Exception as exc:
        raise translate(exc, out) from None
    ack = json.loads(reply)
    return Published(seq=int(ack.get("seq", 0)), duplicate=bool(ack.get("duplicate")))


async def publish_many(conn: Connection, outs: Sequence[Outbound]) -> list[Published | JetjobsError]:
    """Publish with many acknowledgements in flight; one result or error per message, in order."""
    futures: list[asyncio.Future[nats.js.api.PubAck]] = []
    for out in outs:
        futures.append(await conn.js.publish_async(out.subject, out.body, headers=dict(out.headers)))
    results: list[Published | JetjobsError] = []
    for out, future in zip(outs, futures, strict=True):
        try:
            ack = await asyncio.wait_for(future, conn.settings.request_timeout_s)
            results.append(Published(seq=ack.seq, duplicate=bool(ack.duplicate)))
        except Exception as exc:
            results.append(translate(exc, out))
    return results


def translate(exc: BaseException, out: Outbound) -> JetjobsError:
    """Turn a nats-py publish error into a jetjobs error that says what to do."""
    if isinstance(exc, PublishFailed):
        if exc.err_code in (_MAX_MSGS_EXCEEDED, _MAX_BYTES_EXCEEDED):
            return QueueFull(out.queue)
        if exc.status == "503":
            return StreamMissing(f"no stream stores {out.subject}; queue {out.queue!r} is not provisioned")
        return JetjobsError(f"publishing to {out.subject} failed: {exc}")
    if isinstance(exc, nats.js.errors.APIError) and exc.err_code in (_MAX_MSGS_EXCEEDED, _MAX_BYTES_EXCEEDED):
        return QueueFull(out.queue)
    if isinstance(exc, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError):
        return StreamMissing(f"no stream stores {out.subject}; queue {out.queue!r} is not provisioned")
    if isinstance(exc, nats.errors.TimeoutError | asyncio.TimeoutError):
        return JetjobsError(f"publishing to {out.subject} timed out; the job may or may not be stored")
    if isinstance(exc, nats.js.errors.APIError):
        return JetjobsError(f"publishing to {out.subject} failed: {exc.description} (err {exc.err_code})")
    if isinstance(exc, nats.errors.ConnectionClosedError | nats.errors.OutboundBufferLimitError):
        return JetjobsError(f"publishing to {out.subject} failed: not connected to NATS")
    if isinstance(exc, JetjobsError):
        return exc
    return JetjobsError(f"publishing to {out.subject} failed: {exc!r}")
