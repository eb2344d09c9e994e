"""The first status record of a job whose id the caller chose: when it may replace an earlier run's.

The producer sends it with ``StatusStore.first_of_run`` and waits for the answers here, all
together (``enqueue_many`` keeps its publishes in flight while they come back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ._wire import H_WORKFLOW_STEP

log = logging.getLogger("jetjobs.producer")


def may_replace(job_id: str | None, headers: Mapping[str, str] | None, due: datetime | None) -> bool:
    """May this job's first record replace an earlier run's final one (see ``StatusStore.first_of_run``)?

    Only for an id the caller chose (a random one has no earlier run) and a message that a
    worker surely runs and settles: not a workflow step (its start fence may ack a message
    unrun), not a delayed job (its forward into the queue is dropped as a duplicate when it
    comes due within the queue's duplicate window of the earlier run).
    """
    return job_id is not None and due is None and H_WORKFLOW_STEP not in (headers or {})


@dataclass(frozen=True, slots=True)
class FirstRecord:
    job_id: str
    done: Awaitable[bool]


async def finish_first_records(pending: list[FirstRecord]) -> None:
    """Wait for the first records of reused ids; a failure is logged (the job is stored and runs).

    Example::

        pending = [FirstRecord("order-7", await status_store.first_of_run("order-7", data, enqueued_at))]
        await finish_first_records(pending)
    """
    if not pending:
        return
    results = await asyncio.gather(*(p.done for p in pending), return_exceptions=True)
    for first, result in zip(pending, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            log.warning(
                "job %s is stored but its first status record was not written (%s); "
                "until a worker starts it, its status is missing or an earlier run's",
                first.job_id,
                result,
            )
