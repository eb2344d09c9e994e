"""Reading job status, waiting for results and cancelling jobs (what a ``Job`` handle asks)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from . import transport
from ._outcome import ErrorInfo
from ._status import JobInfo, JobState, StatusRecord, decode_status
from ._wire import now_iso
from .errors import JetjobsError, JobCancelled, JobFailed, JobNotFound, ResultTimeout

if TYPE_CHECKING:
    from ._link import Link


class Results:
    """Status, results and cancellation of jobs, through the app's link to NATS.

    Example::

        results = Results(link)
        info = await results.status("order-42")
        value = await results.result("order-42", timeout_s=10)
    """

    def __init__(self, link: Link) -> None:
        self._link = link
        self._cancels: transport.CancelStore | None = None
        self._cancels_conn: transport.Connection | None = None

    async def status(self, job_id: str, *, wait_s: float = 0.0) -> JobInfo:
        data = await self._link.status_store.get(job_id)
        if data is None and wait_s > 0:
            data = await self._first_record(job_id, wait_s)
        if data is None:
            raise JobNotFound(f"no status for job {job_id!r} (never enqueued, or older than result_ttl_s)")
        return decode_status(data)

    async def _first_record(self, job_id: str, wait_s: float) -> bytes | None:
        try:
            async with (
                asyncio.timeout(wait_s),
                contextlib.aclosing(self._link.status_store.watch(job_id)) as updates,
            ):
                async for data in updates:
                    return data
        except TimeoutError:
            pass
        return None

    async def result(self, job_id: str, *, timeout_s: float | None = None) -> Any:
        seen = False
        try:
            async with (
                asyncio.timeout(timeout_s),
                contextlib.aclosing(self._link.status_store.watch(job_id)) as updates,
            ):
                async for data in updates:
                    seen = True
                    info = decode_status(data)
                    if info.state.is_final:
                        return final_value(info)
        except TimeoutError:
            if not seen:
                raise ResultTimeout(
                    f"no job {job_id!r} is stored (never enqueued, or older than result_ttl_s); "
                    f"waited {timeout_s:g}s for it to appear"
                ) from None
            raise ResultTimeout(f"job {job_id} did not finish within {timeout_s:g}s") from None
        raise JetjobsError(f"status watch of job {job_id} ended")  # pragma: no cover - watch never ends

    async def watch(self, job_id: str, *, timeout_s: float | None = None) -> AsyncIterator[JobInfo]:
        """Yield the job's status now (once it exists) and at every change, until it is final."""
        try:
            async with (
                asyncio.timeout(timeout_s),
                contextlib.aclosing(self._link.status_store.watch(job_id)) as updates,
            ):
                async for data in updates:
                    info = decode_status(data)
                    yield info
                    if info.state.is_final:
                        return
        except TimeoutError:
            raise ResultTimeout(f"job {job_id} did not finish within {timeout_s:g}s") from None

    async def cancel(
        self, job_id: str, *, queue: str | None = None, wait_s: float = 0.0, reason: str = "cancelled by request"
    ) -> bool:
        """Cancel a job in any state but a final one; see ``App.cancel``."""
        info: JobInfo | None = None
        if queue is None:
            info = await self.status(job_id, wait_s=wait_s)
            queue = info.queue
        if (info is None or info.state is JobState.SCHEDULED) and await transport.cancel_delayed(
            self._link.connection, queue, job_id
        ):
            await self._write_cancelled(job_id, info, "cancelled before it was due")
            return True
        if info is None:
            try:
                info = await self.status(job_id, wait_s=wait_s)
            except JobNotFound:
                return False  # a delayed job that fired or was cancelled long ago
        if info.state.is_final:
            return False
        # The marker first: a worker that fetches the job from now on skips it, and
        # every worker's watch of the bucket stops it if it is running now.
        await self._cancel_store().request(job_id, reason)
        if info.state in (JobState.QUEUED, JobState.RETRYING, JobState.SCHEDULED):
            await self._write_cancelled(job_id, info, reason, only_if=info.state)
        return True

    def _cancel_store(self) -> transport.CancelStore:
        conn = self._link.connection
        if self._cancels is None or self._cancels_conn is not conn:
            self._cancels, self._cancels_conn = transport.CancelStore(conn, self._link.settings), conn
        return self._cancels

    async def _write_cancelled(
        self, job_id: str, info: JobInfo | None, reason: str, *, only_if: JobState | None = None
    ) -> None:
        status = self._link.status_store
        entry = await status.kv.get(job_id)
        if entry is not None and entry.value is not None:
            info = decode_status(entry.value)
        if info is None:
            return
        if only_if is not None and info.state is not only_if:
            return  # a worker took it meanwhile: it settles the job as cancelled itself
        record = StatusRecord(info.id, info.task, info.queue, info.priority, info.enqueued_at)
        error = ErrorInfo("jetjobs.errors.Cancel", reason)
        now = now_iso()
        data = record.encode(
            JobState.CANCELLED,
            updated_at=now,
            finished_at=now,
            attempts=info.attempts,
            scheduled_for=info.scheduled_for,
            error=error,
        )
        if entry is None:
            await status.put(job_id, data)
        else:
            # Compare-and-set: never overwrite what a worker wrote since we read it.
            await status.kv.update(job_id, data, entry.revision)


def final_value(info: JobInfo) -> Any:
    """The result of a final status, or the error it carries, raised."""
    if info.state is JobState.SUCCEEDED:
        return info.result
    error = info.error
    kind = JobCancelled if info.state is JobState.CANCELLED else JobFailed
    raise kind(
        info.id,
        info.state.value,
        error.type if error else "Cancelled",
        error.message if error else "",
        error.traceback if error else "",
    )
