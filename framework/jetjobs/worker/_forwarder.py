"""Moves delayed jobs that came due into their queue.

The server fires a delayed job onto ``delayed.<queue>.due.<priority>``; this
publishes it to ``jobs.<queue>.<priority>`` (same body and headers, so the trace
continues), then acks. A full queue pushes back (nak with delay) instead of
dropping anything; the job id as ``Nats-Msg-Id`` makes a repeated forward harmless.
"""

from __future__ import annotations

import logging

from .. import transport
from .._names import PRIORITIES, Priority, is_valid_job_id
from .._settings import QueueConfig
from .._status import JobState, StatusRecord, decode_status
from .._wire import H_HANDOVERS, H_JOB_ID, H_MSG_ID, copyable_headers, now_iso
from ..errors import JetjobsError, QueueFull
from ..transport import Connection, Delivery, StatusStore
from ._fetcher import Source
from ._handover import handover_msg_id

log = logging.getLogger("jetjobs.worker")

_FULL_RETRY_S = 5.0
_ERROR_RETRY_S = 2.0


class Forwarder:
    def __init__(self, conn: Connection, queue: str, cfg: QueueConfig, status: StatusStore) -> None:
        self._conn = conn
        self._queue = queue
        self._cfg = cfg
        self._status = status

    @property
    def source(self) -> Source:
        names = self._conn.names
        return Source("delayed", names.delayed_stream, names.forwarder_consumer(self._queue))

    async def handle(self, delivery: Delivery, label: str) -> None:
        level = delivery.subject.rsplit(".", 1)[-1]
        priority: Priority = level if level in PRIORITIES else "normal"
        # Whatever the message holds, it goes on to the queue, whose worker dead-letters it if it is
        # malformed: only headers that can be sent and that the server does not act on go with it.
        headers = copyable_headers(delivery.headers)
        job_id = headers.get(H_JOB_ID, "")
        valid_id = is_valid_job_id(job_id)
        headers[H_MSG_ID] = job_id if valid_id else f"delayed-{delivery.stream_seq}"
        if valid_id and H_HANDOVERS in headers:  # a hand-over waited here: its own id, or the queue drops it
            headers[H_MSG_ID] = handover_msg_id(job_id, int(headers[H_HANDOVERS] or 0))
        entry = await self._status.kv.get(job_id) if valid_id else None
        out = transport.Outbound(self._queue, self._conn.names.subject(self._queue, priority), delivery.data, headers)
        try:
            await self._publish(out)
        except QueueFull:
            log.warning("queue %s is full; delayed job %s waits %ss", self._queue, job_id, _FULL_RETRY_S)
            await delivery.nak(_FULL_RETRY_S)
            return
        except JetjobsError as exc:
            log.warning("forwarding delayed job %s failed (%s); retrying", job_id, exc)
            await delivery.nak(_ERROR_RETRY_S)
            return
        if entry is not None and entry.value is not None:
            await self._mark_queued(job_id, entry.value, entry.revision)
        await delivery.ack()

    async def _publish(self, out: transport.Outbound) -> None:
        try:
            await transport.publish(self._conn, out)
        except transport.StreamMissing:
            await transport.ensure_stream_exists(self._conn, self._queue, self._cfg)
            await transport.publish(self._conn, out)

    async def _mark_queued(self, job_id: str, stored: bytes, revision: int) -> None:
        """scheduled -> queued, unless a worker already wrote something newer."""
        info = decode_status(stored)
        if info.state is not JobState.SCHEDULED:
            return
        record = StatusRecord(info.id, info.task, info.queue, info.priority, info.enqueued_at)
        data = record.encode(JobState.QUEUED, updated_at=now_iso(), scheduled_for=info.scheduled_for)
        await self._status.update_nowait(job_id, data, revision)
