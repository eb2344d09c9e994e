"""Unique tasks on the worker: hold the job's key while it runs, wait while another job holds it.

Every worker takes the key before running a unique task's job, whatever the
enqueue-time policy: that is what keeps two jobs of one key from running at the
same time across replicas (and serves ``unique_policy="queue"``). A held key is
refreshed every third of ``unique_lock_ttl_s``; a worker that dies stops
refreshing and the server deletes the key within ``unique_lock_ttl_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from .._unique import call_key
from .._wire import decode_body
from ..transport import LockStore
from ._executor import Prepared

log = logging.getLogger("jetjobs.worker")

_POLL_S = (0.1, 0.3)  # a waiting job asks again after a jittered pause


@dataclass(slots=True)
class Hold:
    key: str
    readable: str
    job_id: str
    refresher: asyncio.Task[None] | None = None


class UniqueGuard:
    """Takes, refreshes and frees the keys of the unique jobs this worker runs."""

    def __init__(self, store: LockStore, ttl_s: float) -> None:
        self._store = store
        self._ttl_s = ttl_s

    async def enter(self, job: Prepared, stop: Callable[[], bool] = lambda: False) -> Hold | None:
        """Wait until ``job`` holds its key (None for a task that is not unique, or once ``stop()``)."""
        spec = job.task.spec.unique
        if spec is None:
            return None
        readable, key = _key(job)
        hold = Hold(key, readable, job.record.id)
        waited = False
        while (holder := await self._store.acquire(key, hold.job_id, readable, self._ttl_s)) is not None:
            if not waited:
                log.info("job %s waits for unique key %s, held by job %s", hold.job_id, readable, holder)
                waited = True
            await asyncio.sleep(random.uniform(*_POLL_S))
            if stop():  # cancelled while it waited
                return None
        hold.refresher = asyncio.create_task(self._refresh(hold), name=f"jetjobs-unique-{hold.job_id}")
        return hold

    async def leave(self, hold: Hold, *, final: bool, keep_s: float) -> None:
        """Free the key when the job ended; else keep it ``keep_s`` for its next attempt."""
        if hold.refresher is not None:
            hold.refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hold.refresher
        try:
            if final:
                await self._store.release(hold.key, hold.job_id)
            else:
                await self._store.refresh(hold.key, hold.job_id, hold.readable, keep_s)
        except Exception as exc:  # the key then expires by its TTL
            log.warning(
                "unique key %s of job %s not %s: %s", hold.readable, hold.job_id, "freed" if final else "kept", exc
            )

    async def free(self, job: Prepared) -> None:
        """Free the key of a job that ends without running (cancelled before it ran)."""
        spec = job.task.spec.unique
        if spec is None:
            return
        _, key = _key(job)
        with contextlib.suppress(Exception):
            await self._store.release(key, job.record.id)

    async def _refresh(self, hold: Hold) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            try:
                if not await self._store.refresh(hold.key, hold.job_id, hold.readable, self._ttl_s):
                    log.warning("job %s lost its unique key %s", hold.job_id, hold.readable)
            except Exception as exc:
                log.debug("refreshing unique key %s failed: %s", hold.readable, exc)


def _key(job: Prepared) -> tuple[str, str]:
    # From the JSON arguments, as the producer computed it (decoded values may differ in form).
    spec = job.task.spec.unique
    assert spec is not None
    args, kwargs = decode_body(job.delivery.data)
    return call_key(job.task.name, job.task.fn, spec, args, kwargs)
