"""Moves jobs that reached the consumer's max_deliver to the DLQ.

A job whose worker crashes on every attempt, or that keeps outliving
``ack_wait``, never reaches the settler's dead-letter branch. JetStream then
publishes a MAX_DELIVERIES advisory (captured in the advisory stream) and,
on a WorkQueue stream, leaves the message stuck in place. This reads it back,
dead-letters it and deletes it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

from .._context import JobContext
from .._hooks import Hooks, run_hooks
from .._outcome import DeadLetter, ErrorInfo
from .._wire import H_ENQUEUED_AT, H_JOB_ID, H_TASK
from ..transport import Connection, Delivery, StoredMessage, delete_message, read_message
from ._fetcher import Source
from ._settler import Settler

log = logging.getLogger("jetjobs.worker")

_RETRY_S = 5.0


class DeadLetterMover:
    def __init__(self, conn: Connection, queue: str, settler: Settler, hooks: Sequence[Hooks] = ()) -> None:
        self._conn = conn
        self._queue = queue
        self._settler = settler
        self._hooks = hooks

    @property
    def source(self) -> Source:
        names = self._conn.names
        return Source("advisories", names.advisory_stream, names.mover_consumer(self._queue))

    async def handle(self, delivery: Delivery, label: str) -> None:
        try:
            await self._move(delivery)
        except Exception:
            log.exception("moving a dead job of %s failed; retrying in %ss", self._queue, _RETRY_S)
            await delivery.nak(_RETRY_S)

    async def _move(self, delivery: Delivery) -> None:
        event = json.loads(delivery.data)
        if not str(event.get("type", "")).endswith("max_deliver"):
            await delivery.ack()
            return
        stream, seq = str(event["stream"]), int(event["stream_seq"])
        deliveries = int(event.get("deliveries", 0))
        stored = await read_message(self._conn, stream, seq)
        if stored is not None:
            error = ErrorInfo(
                "jetjobs.MaxDeliveries",
                f"delivered {deliveries} times without being settled: its workers crashed or it outlived ack_wait",
            )
            outcome = DeadLetter(error, reason="max deliveries reached", state="dead")
            # The DLQ publish is idempotent (msg id per stored message): if we are
            # interrupted before the ack, the advisory comes back and this repeats safely.
            await self._settler.move_stored(self._queue, stored, outcome, deliveries)
            await delete_message(self._conn, stream, seq)
            # Traces, metrics and logs see these deaths too (hooks never raise).
            await run_hooks(self._hooks, stored_context(stored, self._queue, deliveries), outcome)
        await delivery.ack()


def stored_context(stored: StoredMessage, queue: str, deliveries: int) -> JobContext:
    """What is known of a job read back from its stream, for hooks."""
    priority = stored.subject.rsplit(".", 1)[-1]
    return partial_context(stored.headers, stored.seq, stored.subject, queue, priority, deliveries)


def partial_context(
    headers: Mapping[str, str], seq: int, subject: str, queue: str, priority: str, deliveries: int, consumer: str = ""
) -> JobContext:
    """What the headers tell of a job that was not (or could not be) run, for hooks."""
    return JobContext(
        id=headers.get(H_JOB_ID, "") or f"seq-{seq}",
        task=headers.get(H_TASK, "?"),
        queue=queue,
        priority=priority,
        attempt=deliveries,
        max_attempts=deliveries,
        enqueued_at=headers.get(H_ENQUEUED_AT, ""),
        headers=headers,
        subject=subject,
        consumer=consumer,
    )
