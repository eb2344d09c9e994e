"""The running job, as seen from inside a task: ``jetjobs.current_job()``."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import JetjobsError


@dataclass(frozen=True, slots=True)
class JobContext:
    """Facts about the job being run.

    ``args``/``kwargs`` are the validated arguments. ``attempt`` starts at 1 and
    comes from JetStream's delivery count, so it also
    counts deliveries lost to crashed workers. Use ``id`` as an idempotency key.

    Example::

        @app.task(queue="payments")
        async def charge(order_id: str) -> None:
            job = jetjobs.current_job()
            await psp.charge(order_id, idempotency_key=job.id)
    """

    id: str
    task: str
    queue: str
    priority: str
    attempt: int
    max_attempts: int
    enqueued_at: str
    timeout_s: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    subject: str = ""
    consumer: str = ""
    stored_ns: int = 0  # when the stream stored this message (for a delayed job: when it came due)

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


_current: contextvars.ContextVar[JobContext] = contextvars.ContextVar("jetjobs_current_job")


def current_job() -> JobContext:
    """The job the calling task is running; raises JetjobsError outside a task."""
    try:
        return _current.get()
    except LookupError:
        raise JetjobsError("current_job() called outside a running jetjobs task") from None


def set_current(ctx: JobContext) -> contextvars.Token[JobContext]:
    return _current.set(ctx)


def reset_current(token: contextvars.Token[JobContext]) -> None:
    _current.reset(token)
