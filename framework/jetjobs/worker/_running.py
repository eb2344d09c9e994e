"""Writes the "running" status of jobs that run long enough for anyone to see it, and their progress.

Writing "running" for every job costs an encode and a publish on the per-job
path, for a state that a job of a few milliseconds leaves before anyone could
read it. Jobs are marked running once they have run for ``delay_s``; shorter
ones go from queued straight to their final state. The loop runs on the same
connection as the final write, so "running" can never land after it.

Progress (``current_job().progress(...)``) is not sent by the task: the task
only stores its latest value in its ``JobControl``, and this loop writes it
with the running record at most every ``progress_interval_s`` per job. A tight
loop of reports costs the server nothing, and the last value is never lost:
the next tick writes it (or the final record carries it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._context import JobControl
from ..transport import StatusStore

log = logging.getLogger("jetjobs.worker")

Encode = Callable[..., bytes]
PROGRESS_INTERVAL_S = 0.5


@dataclass(slots=True)
class _Job:
    started: float
    encode: Encode
    control: JobControl | None
    marked: bool = False
    written_version: int = 0
    written_at: float = 0.0


class RunningMarker:
    def __init__(
        self, status: StatusStore, *, delay_s: float = 0.25, progress_interval_s: float = PROGRESS_INTERVAL_S
    ) -> None:
        self._status = status
        self.delay_s = delay_s
        self.progress_interval_s = progress_interval_s
        self._jobs: dict[str, _Job] = {}

    def started(self, job_id: str, encode: Encode, control: JobControl | None = None) -> None:
        self._jobs[job_id] = _Job(time.monotonic(), encode, control)

    def finished(self, job_id: str) -> dict[str, Any] | None:
        """Forget the job; its latest progress, for the final record."""
        job = self._jobs.pop(job_id, None)
        if job is None or job.control is None:
            return None
        return job.control.latest

    async def run(self) -> None:
        """Run until cancelled."""
        tick = min(self.delay_s, self.progress_interval_s) / 2
        while True:
            await asyncio.sleep(tick)
            await self.mark()

    async def mark(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self._jobs.items()):
            if not job.marked and job.started > now - self.delay_s:
                continue
            control = job.control
            version = control.version if control is not None else 0
            if job.marked and (version == job.written_version or now - job.written_at < self.progress_interval_s):
                continue
            job.marked, job.written_version, job.written_at = True, version, now
            progress = control.latest if control is not None else None
            try:
                record = job.encode(progress=progress) if progress is not None else job.encode()
                await self._status.put_nowait(job_id, record)
            except Exception as exc:  # disconnected: the status is informative only
                log.debug("running status of %s not written: %s", job_id, exc)
