"""Stage 3 of the worker: the only code that acks, naks or terminates a job.

``settle`` never raises. What happens to a failed job is the ``DeadLetter``
branch: store it in the DLQ first, then its status, then ``term`` — if the DLQ
write fails the message is naked instead, so a dead letter is never lost.

A final status (succeeded, failed, dead, cancelled) is stored before the job is
acked. When that write fails — the status bucket is electing a leader, the
connection is reconnecting — it is retried, with the job kept in progress, until
it is stored or ``FINAL_STATUS_ACK_WAITS`` times the queue's ``ack_wait_s`` have
passed (then it is logged as an error and the job acked: it did run).

A job's slot does not wait for its result's write to be confirmed, but at most
``MAX_UNCONFIRMED`` such jobs are left awaiting confirmation (or retrying the
write): beyond that, settling waits, so a status bucket that answers slowly
slows the worker down instead of growing its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._names import is_valid_job_id
from .._outcome import Cancelled, DeadLetter, ErrorInfo, HandOver, Outcome, Requeue, RetryLater, Succeeded
from .._settings import QueueConfig, QueueLookup
from .._status import JobState, StatusRecord, decode_status
from .._wire import (
    H_DLQ_ATTEMPTS,
    H_DLQ_BODY_TRUNCATED,
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
    copyable_headers,
    fit_dead_letter,
    header_value,
    now_iso,
)
from ..transport import DeadLetterStore, Delivery, StatusStore, StoredMessage

if TYPE_CHECKING:
    from ._executor import Prepared
    from ._handover import HandOverPublisher

log = logging.getLogger("jetjobs.worker")

_DLQ_RETRY_S = 5.0
FINAL_STATUS_ACK_WAITS = 4
"""A final status write is retried for up to this many ack waits of its queue before the ack."""
_FIRST_RETRY_S = 0.1
_MAX_RETRY_S = 2.0
MAX_UNCONFIRMED = 1024
"""Succeeded jobs whose result write awaits the server's answer, at most; then ``settle`` waits."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Settler:
    def __init__(
        self,
        status: StatusStore,
        dlq: DeadLetterStore,
        queues: QueueLookup | None = None,
        handover: HandOverPublisher | None = None,
        max_unconfirmed: int = MAX_UNCONFIRMED,
    ) -> None:
        self._status = status
        self._dlq = dlq
        self._queues: QueueLookup = queues or (lambda _name: QueueConfig())
        self._handover = handover
        self._worker = worker_id()
        self._retrying: set[asyncio.Task[None]] = set()
        self.stored_after_retry = 0
        self.given_up = 0
        self.unconfirmed = 0  # succeeded jobs not yet acked: their result write awaits its answer
        self._max_unconfirmed = max_unconfirmed
        self._room = asyncio.Event()
        self._room.set()

    async def drain(self, timeout_s: float) -> None:
        """Wait for final statuses still being retried; after ``timeout_s`` leave their jobs
        unacknowledged (the server redelivers them after ack_wait: rerun, not lost)."""
        if not self._retrying:
            return
        _, pending = await asyncio.wait(set(self._retrying), timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d jobs left unacknowledged: their results could not be stored before shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)

    async def store_final(self, delivery: Delivery | None, job_id: str, data: bytes, queue: str) -> bool:
        """Write a final status until it is stored or the deadline passes, heartbeating the job.

        Returns whether it was stored. ``delivery`` None (the mover's path): no heartbeat.
        """
        cfg = self._queues(queue)
        deadline = time.monotonic() + FINAL_STATUS_ACK_WAITS * cfg.ack_wait_s
        heartbeat = asyncio.create_task(_keep_in_progress(delivery, cfg.heartbeat_s)) if delivery else None
        pause, failures = _FIRST_RETRY_S, 0
        try:
            while True:
                try:
                    await self._status.put(job_id, data)
                except Exception as exc:
                    failures += 1
                    if time.monotonic() + pause > deadline:
                        self.given_up += 1
                        log.error(
                            "status of job %s could not be stored for %.0fs (%d attempts): %s",
                            job_id,
                            FINAL_STATUS_ACK_WAITS * cfg.ack_wait_s,
                            failures,
                            exc,
                        )
                        return False
                    if failures == 1:
                        log.warning("status of job %s not stored (%s); retrying", job_id, exc)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, _MAX_RETRY_S)
                    continue
                if failures:
                    self.stored_after_retry += 1
                    log.info("status of job %s stored after %d failed attempts", job_id, failures)
                return True
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat

    def _retry_then_ack(self, delivery: Delivery, job_id: str, data: bytes, queue: str) -> None:
        async def retry() -> None:
            await self.store_final(delivery, job_id, data, queue)
            await delivery.ack()  # stored, or given up after the deadline: the job did run

        task = asyncio.get_running_loop().create_task(retry(), name=f"jetjobs-store-{job_id}")
        self._retrying.add(task)
        task.add_done_callback(self._retry_done)

    def _retry_done(self, task: asyncio.Task[None]) -> None:
        self._retrying.discard(task)
        self._confirmed()

    def _confirmed(self) -> None:
        self.unconfirmed -= 1
        if self.unconfirmed < self._max_unconfirmed:
            self._room.set()

    async def _wait_for_room(self) -> None:
        while self.unconfirmed >= self._max_unconfirmed:
            self._room.clear()
            await self._room.wait()

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

            if not store:
                # No result to keep: the final record is not waited for (a failover may
                # lose it; docs/guide.md, store_result), and the job is acked at once.
                await self._status.put_nowait(record.id, data)
                await delivery.ack()
                return

            # Ack once the result is stored, from the store's answer: the job's slot
            # does not wait for that round trip (unless MAX_UNCONFIRMED jobs already
            # do). A failed write is retried (never rerun: the job did run) while the
            # job is kept in progress; then the ack.
            async def ack_when_stored(error: Exception | None) -> None:
                if error is None:
                    self._confirmed()
                    await delivery.ack()
                else:  # runs on the read loop: the retries go to their own task
                    self._retry_then_ack(delivery, record.id, data, record.queue)

            if self.unconfirmed >= self._max_unconfirmed:
                await self._wait_for_room()
            self.unconfirmed += 1
            try:
                await self._status.put_then(record.id, data, ack_when_stored)
            except Exception as exc:  # not even sent (disconnected): retry as above
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
            await self.store_final(delivery, record.id, data, record.queue)
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
            await self._store_dead(record, message, outcome, delivery.num_delivered, first, started_at, delivery)
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
        delivery: Delivery | None = None,
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
        headers, body = fit_dead_letter(headers, message.data, self._dlq.max_payload)
        if H_DLQ_BODY_TRUNCATED in headers:
            log.warning(
                "dead letter of job %s is over the server's max_payload (%d bytes): body stored truncated",
                record.id,
                len(message.data),
            )
        await self._dlq.publish(record.queue, body, headers, f"dlq-{message.stream}-{message.seq}")
        await self.write_dead_status(record, outcome, attempts, first, started_at, delivery)
        log.warning("job %s (%s) dead-lettered: %s: %s", record.id, record.task, outcome.reason, outcome.error.message)

    async def write_dead_status(
        self,
        record: StatusRecord,
        outcome: DeadLetter,
        attempts: int,
        first: str | None,
        started_at: str | None,
        delivery: Delivery | None = None,
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
        if not await self.store_final(delivery, record.id, data, record.queue):
            log.error("job %s is in the DLQ but its status could not be stored", record.id)

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


async def _keep_in_progress(delivery: Delivery, every_s: float) -> None:
    """Reset the job's ack timer every ``every_s`` until cancelled (a failure is only logged)."""
    while True:
        try:
            await delivery.in_progress()
        except Exception as exc:
            log.debug("heartbeat of a job whose status is being stored failed: %s", exc)
        await asyncio.sleep(every_s)


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
    """The original headers that can be stored plus what went wrong (header values are single lines)."""
    headers = copyable_headers(original)
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
