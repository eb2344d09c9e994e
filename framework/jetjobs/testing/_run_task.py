"""``run_task``: one job through the real worker execution path, without a server."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from .._app import App
from .._names import Priority
from .._outcome import Outcome
from .._task import Task
from .._wire import JobHeaders, encode_body, now_iso
from ..errors import ConfigError
from ..transport import Delivery
from ..worker._executor import Executor, Prepared
from ..worker._procpool import ProcessPool


class MemoryDelivery:
    """What the executor reads from a delivery, held in memory."""

    def __init__(self, subject: str, data: bytes, headers: Mapping[str, str], attempt: int) -> None:
        self.subject = subject
        self.data = data
        self.headers = headers
        self.header_error: str | None = None
        self.num_delivered = attempt
        self.stream = "MEMORY"
        self.consumer = "memory"
        self.stream_seq = 1
        self.pending = 0
        self.timestamp_ns = time.time_ns()
        self.settled = False


_OPTIONS = ("attempt", "job_id", "priority", "metadata", "timeout_s")


async def run_task(
    task: Task[..., Any],
    *args: Any,
    attempt: int = 1,
    job_id: str = "test-job",
    priority: Priority | None = None,
    metadata: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    **kwargs: Any,
) -> Outcome:
    """Run ``task`` once as a worker would and return the Outcome.

    Arguments are validated and JSON-encoded as at enqueue, then decoded and
    validated again; middleware, timeouts, the thread/process pools and the retry
    decision are the real ones. ``attempt`` simulates a redelivery. A task with
    a parameter named like one of these options is run with :func:`run_job`.

    Example::

        outcome = await run_task(send_email, "a@example.com", subject="hi", attempt=3)
        assert isinstance(outcome, RetryLater)
    """
    clash = [name for name in _OPTIONS if name in task.signature.parameter_names]
    if clash:
        raise ConfigError(
            f"task {task.name!r} has parameters named like run_task's options ({', '.join(clash)}); "
            "use run_job(task, args=..., kwargs=..., attempt=...)"
        )
    return await run_job(
        task, args, kwargs, attempt=attempt, job_id=job_id, priority=priority, metadata=metadata, timeout_s=timeout_s
    )


async def run_job(
    task: Task[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    attempt: int = 1,
    job_id: str = "test-job",
    priority: Priority | None = None,
    metadata: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> Outcome:
    """:func:`run_task` with the task's arguments given explicitly (no name clashes).

    Example::

        outcome = await run_job(process, kwargs={"job_id": "upstream-7"}, attempt=2)
    """
    wire_args, wire_kwargs = task.signature.encode_call(tuple(args), dict(kwargs or {}))
    headers = JobHeaders(
        job_id=job_id,
        task=task.name,
        enqueued_at=now_iso(),
        task_version=task.spec.version,
        timeout_s=timeout_s,
        metadata=dict(metadata or {}),
    ).to_headers()
    level: Priority = priority or task.spec.priority
    delivery = MemoryDelivery(f"jobs.{task.spec.queue}.{level}", encode_body(wire_args, wire_kwargs), headers, attempt)
    app = task.app
    if not isinstance(app, App):  # the executor runs the app's middleware and hooks around the task
        raise ConfigError(f"run_task needs a task registered with an App, not with {app!r}")
    processes = ProcessPool(1)
    with ThreadPoolExecutor(max_workers=4) as threads:
        executor = Executor(app, threads=threads, processes=processes, unknown_task_retries=0)
        try:
            prepared = executor.prepare(cast(Delivery, delivery), task.spec.queue, level)
            if not isinstance(prepared, Prepared):
                return prepared
            return await executor.execute(prepared)
        finally:
            await processes.close()
