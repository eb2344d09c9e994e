"""Stage 3 of the worker: the only code that acks, naks or terminates a job.

``settle`` never raises. What happens to a failed job is the ``DeadLetter``
branch: store it in the DLQ first, then its status, then ``term`` — if the DLQ
write fails the message is naked instead, so a dead letter is never lost.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._names import is_valid_job_id
from .._outcome import Cancelled, DeadLetter, ErrorInfo, HandOver, Outcome, Requeue, RetryLater, Succeeded
from .._status import JobState, StatusRecord, decode_status
from .._wire import (
    H_DLQ_ATTEMPTS,
    H_DLQ_ERROR_MESSAGE,
    H_DLQ_ERROR_TYPE,
    H_DLQ_FIRST_FAILURE,
    H_DLQ_LAST_FAILURE,
    H_DLQ_REASON,
    H_DLQ_STREAM_SEQ,
    H_DLQ_SUBJECT,
    H_DLQ_TRACEBACK,
    H_ENQUEUED_AT,
    H_JOB_ID,
    H_TASK,
    header_value,
    now_iso,
)
from ..transport import DeadLetterStore, Delivery, StatusStore, StoredMessage

if TYPE_CHECKING:
    from ._executor import Prepared
    from ._handover import HandOverPublisher

log = logging.getLogger("jetjobs.worker")

_DLQ_RETRY_S = 5.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Settler:
    def __init__(self, status: StatusStore, dlq: DeadLetterStore, handover: HandOverPublisher | None = None) -> None:
        self._status = status
        self._dlq = dlq
        self._handover = handover
        self._worker = worker_id()

    async def settle(
        self, delivery: Delivery, job: Prepared | None, outcome: Outcome, queue: str, started_at: str | None
    ) -> None:
        record = job.record if job is not None else _record_from_headers(delivery, queue)
        try:
            await self._settle(delivery, record, job, outcome, started_at)
        except Exception:
            log.exception("settling job %s failed; it will be redelivered", record.id)
            if not delivery.settled:
                try:
                    await delivery.nak(_DLQ_RETRY_S)
                except Exception as exc:
                    log.debug("nak failed too (%s): the server redelivers after ack_wait", exc)

    async def _settle(
        self,
        delivery: Delivery,
        record: StatusRecord,
        job: Prepared | None,
        outcome: Outcome,
        started_at: str | None,
    ) -> None:
        attempts = delivery.num_delivered
        if isinstance(outcome, Succeeded):
            store = job is None or job.task.spec.store_result
            now = now_iso()
            data = record.encode(
                JobState.SUCCEEDED,
                updated_at=now,
                attempts=attempts,
                result=outcome.result if store else None,
                started_at=started_at,
                finished_at=now,
                first_failure_at=job.first_failure_at if job is not None else None,
                worker=self._worker,
                progress=job.progress if job is not None else None,
            )

            # Ack once the result is stored, from the store's answer: the job's slot
            # does not wait for that round trip.
            async def ack_when_stored(error: Exception | None) -> None:
                if error is not None:  # the job did run: rerunning it because the write failed would double it
                    log.error("job %s succeeded but its result could not be stored: %s", record.id, error)
                await delivery.ack()

            try:
                await self._status.put_then(record.id, data, ack_when_stored)
            except Exception as exc:  # not even sent (disconnected): ack anyway, as above
                await ack_when_stored(exc)
        elif isinstance(outcome, RetryLater):
            first = await self._first_failure(job, record, attempts)
            await self._status.put_nowait(
                record.id,
                record.encode(
                    JobState.RETRYING,
                    updated_at=now_iso(),
                    attempts=attempts,
                    error=outcome.error,
                    started_at=started_at,
                    first_failure_at=first,
                    next_attempt_in_s=round(outcome.delay_s, 3),
                    worker=self._worker,
                ),
            )
            await delivery.nak(outcome.delay_s)
        elif isinstance(outcome, DeadLetter):
            await self._dead_letter(
                delivery, record, outcome, started_at, await self._first_failure(job, record, attempts)
            )
        elif isinstance(outcome, Cancelled):
            error = ErrorInfo("jetjobs.errors.Cancel", outcome.reason)
            data = record.encode(
                JobState.CANCELLED,
                updated_at=now_iso(),
                attempts=attempts,
                error=error,
                finished_at=now_iso(),
                progress=job.progress if job is not None else None,
            )
            await self._status.put(record.id, data)
            await delivery.ack()
        elif isinstance(outcome, HandOver):
            await self._hand_over(delivery, record, outcome)
        elif isinstance(outcome, Requeue):
            await self._status.put_nowait(
                record.id, record.encode(JobState.QUEUED, updated_at=now_iso(), attempts=attempts)
            )
            await delivery.nak()

    async def _hand_over(self, delivery: Delivery, record: StatusRecord, outcome: HandOver) -> None:
        """Publish the job again for a worker with its version, note why it waits, then ack."""
        if self._handover is None:
            await delivery.nak(_DLQ_RETRY_S)
            return
        try:
            await self._handover.publish(delivery, record.queue, outcome.delay_s)
        except Exception as exc:
            log.warning("handing job %s over failed (%s); redelivering", record.id, exc)
            await delivery.nak(_DLQ_RETRY_S)
            return
        data = record.encode(JobState.QUEUED, updated_at=now_iso(), waiting=outcome.reason)
        await self._status.put_nowait(record.id, data)
        await delivery.ack()

    async def _dead_letter(
        self,
        delivery: Delivery,
        record: StatusRecord,
        outcome: DeadLetter,
        started_at: str | None,
        first: str,
    ) -> None:
        message = StoredMessage(
            delivery.stream_seq, delivery.subject, delivery.headers, delivery.data, None, delivery.stream
        )
        try:
            await self._store_dead(record, message, outcome, delivery.num_delivered, first, started_at)
        except Exception as exc:
            log.error("cannot dead-letter job %s (%s); retrying in %ss", record.id, exc, _DLQ_RETRY_S)
            await delivery.nak(_DLQ_RETRY_S)
            return
        await delivery.term(outcome.reason)

    async def move_stored(self, queue: str, stored: StoredMessage, outcome: DeadLetter, attempts: int) -> None:
        """Dead-letter a message read back from its stream (the mover's path); raises on failure."""
        record = _record_from(stored.headers, queue, f"{stored.subject}-{stored.seq}")
        first = await self._first_failure(None, record, attempts)
        await self._store_dead(record, stored, outcome, attempts, first, None)

    async def _store_dead(
        self,
        record: StatusRecord,
        message: StoredMessage,
        outcome: DeadLetter,
        attempts: int,
        first: str,
        started_at: str | None,
    ) -> None:
        """The DLQ copy (idempotent: one msg id per stored message), then the status."""
        headers = dead_letter_headers(
            message.headers,
            error=outcome.error,
            reason=outcome.reason,
            attempts=attempts,
            first_failure_at=first,
            subject=message.subject,
            stream_seq=message.seq,
        )
        await self._dlq.publish(record.queue, message.data, headers, f"dlq-{message.stream}-{message.seq}")
        await self.write_dead_status(record, outcome, attempts, first, started_at)
        log.warning("job %s (%s) dead-lettered: %s: %s", record.id, record.task, outcome.reason, outcome.error.message)

    async def write_dead_status(
        self,
        record: StatusRecord,
        outcome: DeadLetter,
        attempts: int,
        first: str | None,
        started_at: str | None,
    ) -> None:
        state = JobState.FAILED if outcome.state == "failed" else JobState.DEAD
        data = record.encode(
            state,
            updated_at=now_iso(),
            attempts=attempts,
            error=outcome.error,
            started_at=started_at,
            finished_at=now_iso(),
            first_failure_at=first,
            worker=self._worker,
        )
        try:
            await self._status.put(record.id, data)
        except Exception as exc:
            log.error("job %s is in the DLQ but its status could not be stored: %s", record.id, exc)

    async def _first_failure(self, job: Prepared | None, record: StatusRecord, attempts: int) -> str:
        """When the job first failed: known from its start, else from its stored status, else now."""
        if job is not None:
            return job.first_failure_at or now_iso()
        return await self.stored_first_failure(record.id, attempts) or now_iso()

    async def stored_first_failure(self, job_id: str, attempts: int) -> str | None:
        """The first failure time kept in the job's status (None on a first attempt)."""
        if attempts <= 1:
            return None
        try:
            data = await self._status.get(job_id)
            if data:
                return decode_status(data).first_failure_at
        except Exception as exc:  # status is informative; dead-lettering must not depend on it
            log.debug("reading status of %s failed: %s", job_id, exc)
        return None


def dead_letter_headers(
    original: Mapping[str, str],
    *,
    error: ErrorInfo,
    reason: str,
    attempts: int,
    first_failure_at: str,
    subject: str,
    stream_seq: int,
) -> dict[str, str]:
    """The original headers plus what went wrong (header values are single lines)."""
    headers = {k: v for k, v in original.items() if isinstance(k, str) and k != "Nats-Msg-Id"}
    headers.update(
        {
            H_DLQ_REASON: header_value(reason),
            H_DLQ_ERROR_TYPE: header_value(error.type),
            H_DLQ_ERROR_MESSAGE: header_value(error.message or "-"),
            H_DLQ_TRACEBACK: json.dumps(error.traceback[-3000:]),
            H_DLQ_ATTEMPTS: str(attempts),
            H_DLQ_FIRST_FAILURE: first_failure_at,
            H_DLQ_LAST_FAILURE: now_iso(),
            H_DLQ_SUBJECT: subject,
            H_DLQ_STREAM_SEQ: str(stream_seq),
        }
    )
    return headers


def _record_from_headers(delivery: Delivery, queue: str) -> StatusRecord:
    return _record_from(delivery.headers, queue, f"{delivery.stream}-{delivery.stream_seq}")


def _record_from(headers: Mapping[str, str], queue: str, fallback: str) -> StatusRecord:
    """Best-effort identity of a message that could not be decoded."""
    job_id = headers.get(H_JOB_ID) or ""
    if not is_valid_job_id(job_id):
        job_id = f"seq-{fallback}".replace(".", "-")
    return StatusRecord(job_id, headers.get(H_TASK, "?"), queue, None, headers.get(H_ENQUEUED_AT))
