"""Read-only views of queues for operators and metrics."""

from __future__ import annotations

from dataclasses import dataclass

import nats.js.errors

from .._names import PRIORITIES
from ._connection import Connection
from ._dlq import DeadLetterStore


@dataclass(frozen=True, slots=True)
class ConsumerStats:
    priority: str
    pending: int
    ack_pending: int
    redelivered: int
    waiting_pulls: int

    @property
    def backlog(self) -> int:
        """Jobs not yet done: waiting plus running (what KEDA/HPA scale on)."""
        return self.pending + self.ack_pending


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str
    stream: str
    messages: int
    max_length: int | None
    consumers: tuple[ConsumerStats, ...]
    dead: int
    last_seq: int = 0  # jobs ever stored in the stream; last_seq - messages = jobs that left it

    @property
    def processed(self) -> int:
        """Jobs that have left the queue (acked or removed) since the stream was created."""
        return max(self.last_seq - self.messages, 0)

    @property
    def backlog(self) -> int:
        return sum(c.backlog for c in self.consumers)

    @property
    def in_flight(self) -> int:
        return sum(c.ack_pending for c in self.consumers)

    @property
    def waiting_pulls(self) -> int:
        return sum(c.waiting_pulls for c in self.consumers)


@dataclass(frozen=True, slots=True)
class ConsumerState:
    """What the server knows of one consumer right now (for the pull watchdog)."""

    pending: int
    waiting_pulls: int
    ack_pending: int
    max_ack_pending: int | None  # None: unlimited

    @property
    def at_ack_limit(self) -> bool:
        """The server parks pull requests until an ack frees a slot."""
        return self.max_ack_pending is not None and self.ack_pending >= self.max_ack_pending


async def consumer_state(conn: Connection, stream: str, consumer: str) -> ConsumerState | None:
    """The consumer's counts; None when it does not exist."""
    try:
        ci = await conn.js.consumer_info(stream, consumer)
    except nats.js.errors.NotFoundError:
        return None
    limit = ci.config.max_ack_pending
    return ConsumerState(
        pending=int(ci.num_pending or 0),
        waiting_pulls=int(ci.num_waiting or 0),
        ack_pending=int(ci.num_ack_pending or 0),
        max_ack_pending=limit if limit is not None and limit > 0 else None,
    )


async def list_queues(conn: Connection) -> list[str]:
    """Names of every queue that has a stream in this namespace."""
    queues = []
    for info in await conn.js.streams_info():
        queue = conn.names.is_queue_stream(info.config.name or "")
        if queue is not None:
            queues.append(queue)
    return sorted(queues)


async def queue_stats(conn: Connection, queue: str, *, with_dead: bool = True) -> QueueStats | None:
    """Counts for one queue; None when its stream does not exist."""
    stream = conn.names.stream(queue)
    try:
        info = await conn.js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        return None
    consumers = []
    for priority in PRIORITIES:
        try:
            ci = await conn.js.consumer_info(stream, conn.names.consumer(queue, priority))
        except nats.js.errors.NotFoundError:
            continue
        consumers.append(
            ConsumerStats(
                priority=priority,
                pending=int(ci.num_pending or 0),
                ack_pending=int(ci.num_ack_pending or 0),
                redelivered=int(ci.num_redelivered or 0),
                waiting_pulls=int(ci.num_waiting or 0),
            )
        )
    max_msgs = info.config.max_msgs
    dead = await DeadLetterStore(conn).count(queue) if with_dead else 0
    return QueueStats(
        queue=queue,
        stream=stream,
        messages=int(info.state.messages),
        max_length=max_msgs if max_msgs and max_msgs > 0 else None,
        consumers=tuple(consumers),
        dead=dead,
        last_seq=int(info.state.last_seq or 0),
    )
