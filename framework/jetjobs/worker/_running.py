"""Writes the "running" status of jobs that run long enough for anyone to see it.

Writing "running" for every job costs an encode and a publish on the per-job
path, for a state that a job of a few milliseconds leaves before anyone could
read it. Jobs are marked running once they have run for ``delay_s``; shorter
ones go from queued straight to their final state. The loop runs on the same
connection as the final write, so "running" can never land after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..transport import StatusStore

log = logging.getLogger("jetjobs.worker")

Encode = Callable[[], bytes]


class RunningMarker:
    def __init__(self, status: StatusStore, *, delay_s: float = 0.25) -> None:
        self._status = status
        self.delay_s = delay_s
        self._pending: dict[str, tuple[float, Encode]] = {}

    def started(self, job_id: str, encode: Encode) -> None:
        self._pending[job_id] = (time.monotonic(), encode)

    def finished(self, job_id: str) -> None:
        self._pending.pop(job_id, None)

    async def run(self) -> None:
        """Run until cancelled."""
        while True:
            await asyncio.sleep(self.delay_s / 2)
            await self.mark()

    async def mark(self) -> None:
        due = time.monotonic() - self.delay_s
        for job_id, (started, encode) in list(self._pending.items()):
            if started > due:
                continue
            del self._pending[job_id]
            try:
                await self._status.put_nowait(job_id, encode())
            except Exception as exc:  # disconnected: the status is informative only
                log.debug("running status of %s not written: %s", job_id, exc)
