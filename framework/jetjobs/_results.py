"""Reading job status, waiting for results and cancelling delayed jobs (the App's job-handle side)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from . import transport
from ._outcome import ErrorInfo
from ._status import JobInfo, JobState, StatusRecord, decode_status
from ._wire import now_iso
from .errors import JetjobsError, JobCancelled, JobFailed, JobNotFound, ResultTimeout

if TYPE_CHECKING:
    from ._app import App


async def read_status(app: App, job_id: str, wait_s: float = 0.0) -> JobInfo:
    data = await app.status_store.get(job_id)
    if data is None and wait_s > 0:
        data = await _first_record(app, job_id, wait_s)
    if data is None:
        raise JobNotFound(f"no status for job {job_id!r} (never enqueued, or older than result_ttl_s)")
    return decode_status(data)


async def _first_record(app: App, job_id: str, wait_s: float) -> bytes | None:
    try:
        async with asyncio.timeout(wait_s), contextlib.aclosing(app.status_store.watch(job_id)) as updates:
            async for data in updates:
                return data
    except TimeoutError:
        pass
    return None


async def wait_result(app: App, job_id: str, timeout_s: float | None) -> Any:
    try:
        async with asyncio.timeout(timeout_s), contextlib.aclosing(app.status_store.watch(job_id)) as updates:
            async for data in updates:
                info = decode_status(data)
                if info.state.is_final:
                    return final_value(info)
    except TimeoutError:
        raise ResultTimeout(f"job {job_id} did not finish within {timeout_s:g}s") from None
    raise JetjobsError(f"status watch of job {job_id} ended")  # pragma: no cover - watch never ends


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


async def cancel(app: App, job_id: str, queue: str | None, wait_s: float) -> bool:
    info: JobInfo | None = None
    if queue is None:
        info = await read_status(app, job_id, wait_s)
        if info.state is not JobState.SCHEDULED:
            return False
        queue = info.queue
    if not await transport.cancel_delayed(app.connection, queue, job_id):
        return False
    entry = await app.status_store.kv.get(job_id)
    if entry is not None and entry.value is not None:
        info = decode_status(entry.value)
    if info is not None:
        record = StatusRecord(info.id, info.task, info.queue, info.priority, info.enqueued_at)
        error = ErrorInfo("jetjobs.errors.Cancel", "cancelled before it was due")
        now = now_iso()
        data = record.encode(
            JobState.CANCELLED, updated_at=now, finished_at=now, scheduled_for=info.scheduled_for, error=error
        )
        await app.status_store.put(job_id, data)
    return True
