"""Bounded reads for operator views: the newest records of a KV bucket, new writes only, queue pause.

A status bucket can hold millions of records. Listing "the newest jobs" must not read
every key: with ``history=1`` every message of the bucket's stream is a live record,
so the newest records are simply the last stream sequences. ``scan_newest`` reads one
window of sequences ``[before - window, before)`` with an ephemeral ordered consumer
(one request, then the server streams the window) and hands back a cursor for the
next window; a page costs at most ``window`` messages, whatever the bucket's size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime

import nats.errors
import nats.js.errors
from nats.js.api import ConsumerConfig, DeliverPolicy

from .._names import PRIORITIES
from ._connection import Connection
from ._kvstore import Entry

_KV_OP = "KV-Operation"
_MARKER = "Nats-Marker-Reason"


@dataclass(frozen=True, slots=True)
class ScanWindow:
    """Records read from one window of a bucket's stream, newest first."""

    entries: list[tuple[int, Entry]]  # (stream sequence, entry); deleted keys left out
    next_before: int  # pass as ``before`` to read the window below; 0 when nothing is left
    last_seq: int  # the stream's last sequence when the scan began


async def scan_newest(conn: Connection, bucket: str, *, before: int = 0, window: int = 1000) -> ScanWindow:
    """Read the records stored at sequences ``[before - window, before)`` of ``bucket``.

    ``before=0`` starts at the end of the stream (the newest records).
    """
    stream = f"KV_{bucket}"
    try:
        info = await conn.js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        return ScanWindow([], 0, 0)
    first, last = int(info.state.first_seq or 0), int(info.state.last_seq or 0)
    stop = min(before - 1, last) if before > 0 else last
    start = max(first, stop - window + 1, 1)
    if info.state.messages == 0 or stop < start:
        return ScanWindow([], 0, last)
    found: list[tuple[int, Entry]] = []
    prefix = f"$KV.{bucket}."
    sub = await conn.js.subscribe(
        f"{prefix}>",
        stream=stream,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start),
        inactive_threshold=30.0,
    )
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=conn.settings.request_timeout_s)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            meta = msg.metadata
            seq = int(meta.sequence.stream)
            if seq > stop:
                break
            headers = msg.headers or {}
            if _KV_OP not in headers and _MARKER not in headers and msg.data:
                found.append((seq, Entry(msg.subject[len(prefix) :], msg.data, seq)))
            if seq >= stop or int(meta.num_pending) == 0:
                break
    finally:
        await sub.unsubscribe()
    found.reverse()
    return ScanWindow(found, start if start > first else 0, last)


async def watch_new(
    conn: Connection, bucket: str, pattern: str = ">", *, ready: asyncio.Event | None = None
) -> AsyncGenerator[Entry, None]:
    """Yield each write to ``bucket`` made from now on (no initial values); deletes have value None.

    ``ready`` is set once the watch is in place: a write after that is seen.
    """
    prefix = f"$KV.{bucket}."
    sub = await conn.js.subscribe(
        prefix + pattern,
        stream=f"KV_{bucket}",
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.NEW,
        inactive_threshold=60.0,
    )
    if ready is not None:
        ready.set()
    try:
        async for msg in sub.messages:
            headers = msg.headers or {}
            deleted = _KV_OP in headers or _MARKER in headers
            yield Entry(msg.subject[len(prefix) :], None if deleted else msg.data, int(msg.metadata.sequence.stream))
    finally:
        with contextlib.suppress(nats.errors.Error):  # connection already closing
            await sub.unsubscribe()


# -- queue pause: JetStream consumer pause (server >= 2.11) ------------------------------


@dataclass(frozen=True, slots=True)
class PauseState:
    paused: bool
    until: str | None  # RFC 3339, None when not paused


async def pause_queue(conn: Connection, queue: str, until: datetime) -> None:
    """Pause every priority consumer of ``queue`` until ``until``: workers stay connected, the
    server hands them nothing. Running jobs finish normally."""
    stamp = until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for consumer in await _consumers(conn, queue):
        await conn.js.pause_consumer(conn.names.stream(queue), consumer, stamp)


async def resume_queue(conn: Connection, queue: str) -> None:
    for consumer in await _consumers(conn, queue):
        await conn.js.resume_consumer(conn.names.stream(queue), consumer)


async def queue_pause_state(conn: Connection, queue: str) -> PauseState:
    """Paused when any of the queue's consumers is paused."""
    stream = conn.names.stream(queue)
    for consumer in await _consumers(conn, queue):
        info = await conn.js.consumer_info(stream, consumer)
        if info.paused:
            return PauseState(True, info.config.pause_until)
    return PauseState(False, None)


async def _consumers(conn: Connection, queue: str) -> list[str]:
    stream = conn.names.stream(queue)
    names = []
    for priority in PRIORITIES:
        consumer = conn.names.consumer(queue, priority)
        try:
            await conn.js.consumer_info(stream, consumer)
        except nats.js.errors.NotFoundError:
            continue
        names.append(consumer)
    return names
