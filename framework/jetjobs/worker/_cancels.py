"""Cancel requests as a worker sees them: skip a cancelled job, stop a running one.

Every worker follows the cancel bucket (``transport.CancelStore``): the stored
requests are loaded before the worker fetches its first job, new ones arrive
within milliseconds. A request for a job this worker is running stops it: the
async task running it is cancelled (for a ``cpu_bound`` task that kills its
process); a thread task only sees ``current_job().cancelled`` (threads cannot be
stopped from outside) and the worker waits for it to return.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .._context import JobControl
from .._outcome import Cancelled, Outcome
from ..transport import CancelStore
from ._executor import Prepared

log = logging.getLogger("jetjobs.worker")

_REMEMBER = 100_000  # requests kept in memory; older ones are read again only after a restart
_LOAD_TIMEOUT_S = 10.0


@dataclass(slots=True)
class _Running:
    task: asyncio.Task[object]
    control: JobControl
    stoppable: bool  # False for thread tasks: only the flag is set


class CancelWatch:
    """The requests this worker knows of and the jobs it is running.

    Example::

        cancels = CancelWatch(CancelStore(conn, settings))
        await cancels.start()
        if cancels.requested(job_id) is None: ...
    """

    def __init__(self, store: CancelStore) -> None:
        self._store = store
        self._requested: OrderedDict[str, str] = OrderedDict()
        self._running: dict[str, _Running] = {}
        self._stopped: set[str] = set()
        self._follow: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loaded = asyncio.Event()
        self._follow = asyncio.create_task(self._store.follow(self._on_cancel, loaded), name="jetjobs-cancels")
        waiter = asyncio.create_task(loaded.wait())
        await asyncio.wait({waiter, self._follow}, timeout=_LOAD_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._follow.done():
            self._follow.result()  # raise what stopped it (e.g. no JetStream)
        elif not loaded.is_set():
            log.warning("cancel requests not loaded within %ss; going on without waiting", _LOAD_TIMEOUT_S)

    async def stop(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._follow

    async def run(self, job: Prepared, execute: Callable[[Prepared], Awaitable[Outcome]]) -> Outcome:
        """Run ``job`` with ``execute``; a cancel request for it ends it as ``Cancelled``."""
        job_id = job.record.id
        self.track(job_id, job.ctx.control, stoppable=job.task.spec.kind != "thread")
        try:
            outcome = await execute(job)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if not self.untrack(job_id) or me is None or me.uncancel() > 0:
                raise  # shutdown: the worker hands the job back
            return Cancelled(self.requested(job_id) or "cancelled while running")
        if self.untrack(job_id):  # a thread task that saw the flag (or finished anyway)
            return Cancelled(self.requested(job_id) or "cancelled while running")
        return outcome

    def requested(self, job_id: str) -> str | None:
        """The reason, if someone asked to cancel this job."""
        return self._requested.get(job_id)

    def track(self, job_id: str, control: JobControl, *, stoppable: bool) -> None:
        """Note that the current asyncio task runs ``job_id``."""
        task = asyncio.current_task()
        assert task is not None
        self._running[job_id] = _Running(task, control, stoppable)

    def untrack(self, job_id: str) -> bool:
        """Forget a job at its end; True if a cancel request stopped (or flagged) it."""
        self._running.pop(job_id, None)
        if job_id in self._stopped:
            self._stopped.discard(job_id)
            return True
        return False

    def _on_cancel(self, job_id: str, reason: str) -> None:
        self._requested[job_id] = reason
        self._requested.move_to_end(job_id)
        while len(self._requested) > _REMEMBER:
            self._requested.popitem(last=False)
        running = self._running.get(job_id)
        if running is None or job_id in self._stopped:
            return
        log.info("cancelling running job %s: %s", job_id, reason)
        self._stopped.add(job_id)
        running.control.cancel()
        if running.stoppable:
            running.task.cancel(f"jetjobs: job {job_id} cancelled")
