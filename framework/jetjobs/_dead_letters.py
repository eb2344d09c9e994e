"""Operating on dead letters: list, inspect, replay, delete."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from . import transport
from ._job import Job, JobBackend
from ._names import is_valid_job_id
from ._status import JobState, StatusRecord
from ._wire import (
    H_DLQ_ATTEMPTS,
    H_DLQ_BODY_SHA256,
    H_DLQ_BODY_SIZE,
    H_DLQ_BODY_TRUNCATED,
    H_DLQ_ERROR_MESSAGE,
    H_DLQ_ERROR_TYPE,
    H_DLQ_FIRST_FAILURE,
    H_DLQ_LAST_FAILURE,
    H_DLQ_REASON,
    H_DLQ_SUBJECT,
    H_DLQ_TRACEBACK,
    H_ENQUEUED_AT,
    H_JOB_ID,
    H_TASK,
    now_iso,
    replay_headers,
)
from .errors import JetjobsError, JobNotFound

if TYPE_CHECKING:
    from ._link import Link

Republish = Callable[[transport.Outbound, StatusRecord], Awaitable[transport.Published]]
"""Publish an already-encoded job through the producer's interceptors (``Producer.republish``)."""


@dataclass(frozen=True, slots=True)
class DeadLetterInfo:
    """One dead-lettered job with what went wrong."""

    seq: int
    queue: str
    task: str
    job_id: str
    reason: str
    error_type: str
    error_message: str
    traceback: str
    attempts: int
    first_failure_at: str
    last_failure_at: str
    original_subject: str
    stored_at: datetime | None
    body: bytes
    headers: dict[str, str]


class DeadLetters:
    """The dead-letter queue of an app's namespace.

    Example::

        async with app:
            for dead in await app.dead_letters.list(queue="emails"):
                print(dead.job_id, dead.error_type, dead.error_message)
                await app.dead_letters.replay(dead.seq)
    """

    def __init__(self, link: Link, republish: Republish, jobs: JobBackend) -> None:
        self._link = link
        self._republish = republish
        self._jobs = jobs

    @property
    def _store(self) -> transport.DeadLetterStore:
        return transport.DeadLetterStore(self._link.connection)

    async def list(self, queue: str | None = None, *, limit: int = 100, after_seq: int = 0) -> list[DeadLetterInfo]:
        """Dead letters in storage order, optionally of one queue."""
        return [self._info(m) for m in await self._store.list(queue, limit=limit, after_seq=after_seq)]

    async def get(self, seq: int) -> DeadLetterInfo:
        stored = await self._store.get(seq)
        if stored is None:
            raise JobNotFound(f"no dead letter with sequence {seq}")
        return self._info(stored)

    async def delete(self, seq: int) -> bool:
        return await self._store.delete(seq)

    async def replay(self, seq: int, *, keep: bool = False) -> Job:
        """Publish the job again (same job id and headers, so its trace continues); then
        remove it from the DLQ unless ``keep``."""
        dead = await self.get(seq)
        if dead.headers.get(H_DLQ_BODY_TRUNCATED) == "true":
            raise JetjobsError(
                f"dead letter {seq} keeps only the first {len(dead.body)} bytes of its body (it had "
                f"{dead.headers.get(H_DLQ_BODY_SIZE, '?')}, sha256 {dead.headers.get(H_DLQ_BODY_SHA256, '?')}); "
                "it cannot be replayed"
            )
        conn = self._link.connection
        parsed = conn.names.parse_subject(dead.original_subject)
        if parsed is None:
            raise JetjobsError(f"dead letter {seq} has no original job subject; cannot replay it")
        queue, _priority = parsed
        headers = replay_headers(dead.headers, msg_id=f"replay-{seq}-{dead.job_id}", replay_of=str(seq))
        out = transport.Outbound(queue=queue, subject=dead.original_subject, body=dead.body, headers=headers)
        status = self._link.status_store
        revision = await status.revision(dead.job_id) if is_valid_job_id(dead.job_id) else -1
        record = StatusRecord(dead.job_id, dead.task, queue, _priority, dead.headers.get(H_ENQUEUED_AT))
        # Through the producer's interceptors: the replay shows in the job's original trace.
        await self._republish(out, record)
        if revision >= 0:
            # Only if no worker wrote "running" or a result in the meantime.
            await status.update_nowait(dead.job_id, record.encode(JobState.QUEUED, updated_at=now_iso()), revision)
        if not keep:
            await self.delete(seq)
        return Job(self._jobs, dead.job_id, dead.task, queue)

    def _info(self, stored: transport.StoredMessage) -> DeadLetterInfo:
        h = dict(stored.headers)
        queue = stored.subject.rsplit(".", 1)[-1]
        try:
            traceback = json.loads(h.get(H_DLQ_TRACEBACK, '""'))
        except json.JSONDecodeError:
            traceback = h.get(H_DLQ_TRACEBACK, "")
        return DeadLetterInfo(
            seq=stored.seq,
            queue=queue,
            task=h.get(H_TASK, "?"),
            job_id=h.get(H_JOB_ID, ""),
            reason=h.get(H_DLQ_REASON, ""),
            error_type=h.get(H_DLQ_ERROR_TYPE, ""),
            error_message=h.get(H_DLQ_ERROR_MESSAGE, ""),
            traceback=traceback if isinstance(traceback, str) else str(traceback),
            attempts=int(h.get(H_DLQ_ATTEMPTS, "0") or 0),
            first_failure_at=h.get(H_DLQ_FIRST_FAILURE, ""),
            last_failure_at=h.get(H_DLQ_LAST_FAILURE, ""),
            original_subject=h.get(H_DLQ_SUBJECT, ""),
            stored_at=stored.time,
            body=stored.data,
            headers=h,
        )
