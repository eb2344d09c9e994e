"""The running job, as seen from inside a task: ``jetjobs.current_job()``."""

from __future__ import annotations

import contextvars
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import ConfigError, JetjobsError


class JobControl:
    """The live side of a running job, shared with its worker (thread-safe).

    The worker sets ``cancel()``; the task reports progress, which the worker
    reads (``latest``) and writes to the status record at most every half second.
    """

    __slots__ = ("_cancelled", "_on_report", "latest", "version")

    def __init__(self, on_report: Callable[[JobControl], None] | None = None) -> None:
        self._cancelled = False  # a plain flag: one attribute write, read from any thread
        self._on_report = on_report
        self.latest: dict[str, Any] | None = None
        self.version = 0

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def report(self, fraction: float, message: str | None = None) -> None:
        if not isinstance(fraction, int | float) or math.isnan(fraction) or not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"progress fraction must be a number from 0 to 1, got {fraction!r}")
        self.latest = {
            "fraction": float(fraction),
            "message": message,
            "updated_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        self.version += 1
        if self._on_report is not None:
            self._on_report(self)


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
    control: JobControl = field(default_factory=JobControl, repr=False, compare=False)

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    @property
    def cancelled(self) -> bool:
        """True once someone asked to cancel this job (``job.cancel()``, ``jetjobs cancel``).

        An async task is cancelled for you (its coroutine gets ``CancelledError``) and a
        ``cpu_bound`` task's process is killed; a thread task cannot be stopped from
        outside, so it should check this between units of work and return::

            @app.task
            def export(rows: int) -> int:
                for i in range(rows):
                    if jetjobs.current_job().cancelled:
                        return i          # the job ends as "cancelled" all the same
                    write_row(i)
                return rows
        """
        return self.control.cancelled

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far the job is, from 0.0 to 1.0, with an optional message.

        Cheap to call in a tight loop: the worker writes the latest value to the job's
        status record at most every 0.5 s (the last value is always written). Works in
        async, thread and ``cpu_bound`` tasks. Read it with ``await job.progress()``.

        Example::

            for i, row in enumerate(rows):
                handle(row)
                jetjobs.current_job().progress((i + 1) / len(rows), f"{i + 1}/{len(rows)} rows")
        """
        self.control.report(fraction, message)


# The slot of each field, in order: ``new_context`` fills them directly.
_SLOTS = tuple(getattr(JobContext, f.name).__set__ for f in dataclasses.fields(JobContext))


def new_context(*values: Any) -> JobContext:
    """``JobContext(*values)`` with every field given, in order, built for each job.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` by name for
    each of its 16 fields; writing the slots directly costs half as much. The
    context is just as immutable afterwards.
    """
    if len(values) != len(_SLOTS):
        raise TypeError(f"new_context() takes {len(_SLOTS)} values, got {len(values)}")
    ctx = object.__new__(JobContext)
    for put, value in zip(_SLOTS, values, strict=True):
        put(ctx, value)
    return ctx


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
