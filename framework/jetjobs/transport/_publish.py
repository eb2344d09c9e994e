"""Publishing job messages, one by one or in bulk, with errors translated."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import nats.errors
import nats.js.errors

from ..errors import JetjobsError, PayloadTooLarge, QueueFull
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
    sent = time.monotonic()
    try:
        reply = await conn.acks.publish(out.subject, out.body, out.headers)
    except Exception as exc:
        # A refused publish is never answered: tell the refusal, not the missing ack.
        raise (conn.violations.find([out.subject], sent) or _lost(conn, exc) or translate(exc, out)) from None
    return _published(reply)


_WINDOW = 1024
_SEND_EVERY = 64  # messages between writes, so the server stores while we publish the rest

OnStored = Callable[[int, Published], Awaitable[None]]


async def publish_many(
    conn: Connection, outs: Sequence[Outbound], on_stored: OnStored | None = None
) -> list[Published | JetjobsError]:
    """Publish with up to ``_WINDOW`` acknowledgements in flight; one result or error per message, in order.

    ``on_stored(index, published)`` runs for each stored message as its
    acknowledgement comes in, while later ones are still on their way.
    """
    results: list[Published | JetjobsError] = []
    futures: deque[asyncio.Future[bytes]] = deque()
    for count, out in enumerate(outs, 1):
        if len(futures) >= _WINDOW:
            await _take(conn, futures, outs, results, on_stored)
        futures.append(await conn.acks.publish_nowait(out.subject, out.body, out.headers))
        if count % _SEND_EVERY == 0:
            await asyncio.sleep(0)  # let the flusher write
    while futures:
        await _take(conn, futures, outs, results, on_stored)
    return results


async def _take(
    conn: Connection,
    futures: deque[asyncio.Future[bytes]],
    outs: Sequence[Outbound],
    results: list[Published | JetjobsError],
    on_stored: OnStored | None,
) -> None:
    """Wait for the oldest acknowledgement (the sweeper fails lost ones; no timer per message)."""
    future = futures.popleft()
    index = len(results)
    try:
        published = _published(await future)
    except Exception as exc:
        results.append(_lost(conn, exc) or translate(exc, outs[index]))
        return
    results.append(published)
    if on_stored is not None:
        await on_stored(index, published)


_SEQ_RE = re.compile(rb'"seq":\s*(\d+)')
_DUPLICATE_RE = re.compile(rb'"duplicate":\s*true')


def _published(reply: bytes) -> Published:
    """Read a PubAck: ``{"stream":"JOBS_q","seq":7}``, plus ``"duplicate": true`` when deduplicated."""
    match = _SEQ_RE.search(reply)
    if match is None:
        ack = json.loads(reply)  # not the compact form the server writes: read it the long way
        return Published(seq=int(ack.get("seq", 0)), duplicate=bool(ack.get("duplicate")))
    return Published(seq=int(match[1]), duplicate=_DUPLICATE_RE.search(reply) is not None)


def _lost(conn: Connection, exc: BaseException) -> JetjobsError | None:
    """The server-is-gone error when a publish failed because the connection is down."""
    unanswered = isinstance(exc, PublishFailed) and not exc.err_code and not exc.status
    return conn.unreachable(None if unanswered else exc)


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
    if isinstance(exc, nats.errors.MaxPayloadError):  # refused before sending (transport/_protocol.py)
        detail = exc.args[0] if exc.args else "over the server's max_payload"
        return PayloadTooLarge(f"job for {out.subject} is too large for the server: {detail}")
    if isinstance(exc, JetjobsError):
        return exc
    return JetjobsError(f"publishing to {out.subject} failed: {exc!r}")
