"""Stage 2 of the worker: turn a delivery into an Outcome. Never touches NATS.

``prepare`` decodes and validates (a poison message gets its Outcome right
away); ``execute`` runs the task through its middleware chain with the timeout
and asks ``decide`` what a failure means.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._context import JobContext, JobControl, new_context, reset_current, set_current
from .._hooks import HookRunner, is_active
from .._middleware import Invoke, build_chain
from .._outcome import DeadLetter, ErrorInfo, HandOver, Outcome, RemoteError, RetryLater, Succeeded, decide
from .._retry import LOST_DELIVERY_SLACK, RetryPolicy, policy_from_json, retry_delay
from .._status import StatusRecord
from .._wire import JobHeaders, decode_body, decode_headers, parse_iso
from ..errors import InvalidPayload, JobTimeout, UnknownTask
from ..transport import Delivery

if TYPE_CHECKING:
    from .._task import Task
    from ._host import ExecutorApp
    from ._procpool import ProcessPool

log = logging.getLogger("jetjobs.worker")

_UNKNOWN_TASK_POLICY = RetryPolicy(max_retries=0, delay_s=2.0, max_delay_s=30.0, jitter=True)


@dataclass(slots=True)
class Prepared:
    """A decoded, validated job ready to run."""

    delivery: Delivery
    task: Task[..., Any]
    ctx: JobContext
    record: StatusRecord
    policy: RetryPolicy
    first_failure_at: str | None = None  # kept across retries in the status record
    progress: dict[str, Any] | None = None  # the task's last report, for the final record


class Executor:
    def __init__(
        self,
        app: ExecutorApp,
        *,
        threads: ThreadPoolExecutor,
        processes: ProcessPool,
        unknown_task_retries: int,
        version_wait_s: float = 3600.0,
    ) -> None:
        self._app = app
        self._version_wait_s = version_wait_s
        self._threads = threads
        self._processes = processes
        self._unknown_task_retries = unknown_task_retries
        # Built once per task; built-in parts with nothing to do (tracing without an
        # OpenTelemetry SDK) are left out, so they cost nothing per job.
        self._chains: dict[str, Invoke] = {
            name: build_chain(
                [m for m in (*app.middleware, *task.middleware) if is_active(m)],
                functools.partial(self._invoke_class if _has_class_methods(task) else self._invoke, task),
            )
            for name, task in app.tasks.items()
        }
        self.hooks: dict[str, HookRunner] = {
            name: HookRunner([*app.hooks, *task.hooks]) for name, task in app.tasks.items()
        }

    def prepare(self, delivery: Delivery, queue: str, priority: str) -> Prepared | Outcome:
        """A job ready to run, or the Outcome of a message that cannot run; never raises."""
        try:
            return self._prepare(delivery, queue, priority)
        except Exception as exc:  # e.g. RecursionError deep in validation: no message may crash the worker
            log.warning("message %s of %s cannot be decoded: %r", delivery.stream_seq, queue, exc)
            return DeadLetter(ErrorInfo.from_exception(exc), reason="malformed message", state="dead")

    def _prepare(self, delivery: Delivery, queue: str, priority: str) -> Prepared | Outcome:
        if delivery.header_error is not None:
            unreadable = InvalidPayload(delivery.header_error)
            return DeadLetter(ErrorInfo.from_exception(unreadable), reason="malformed message", state="dead")
        try:
            headers = decode_headers(delivery.headers)
        except InvalidPayload as exc:
            return DeadLetter(ErrorInfo.from_exception(exc), reason="malformed message", state="dead")
        task = self._app.tasks.get(headers.task)
        if task is None:
            return self._unknown(headers, delivery.num_delivered)
        if _version_mismatch(headers, task):
            return self._other_version(headers, task, delivery)
        attempt = delivery.num_delivered + headers.prior_deliveries
        policy = job_policy(task.spec.retry, headers, attempt)
        if not isinstance(policy, RetryPolicy):
            return policy
        max_attempts = policy.max_attempts
        decoded = decode_arguments(delivery.data, task)
        if not isinstance(decoded, tuple):
            return decoded
        args, kwargs = decoded
        ctx = new_context(  # JobContext's fields in order (built for every job)
            headers.job_id,
            task.name,
            queue,
            priority,
            attempt,
            max_attempts,
            headers.enqueued_at,
            headers.timeout_s or task.spec.timeout_s,
            headers.metadata,
            delivery.headers,
            tuple(args),
            kwargs,
            delivery.subject,
            delivery.consumer,
            delivery.timestamp_ns,
            JobControl(),
        )
        record = StatusRecord(headers.job_id, task.name, queue, priority, headers.enqueued_at or None)
        return Prepared(delivery, task, ctx, record, policy)

    def _unknown(self, headers: JobHeaders, attempt: int) -> Outcome:
        # During a rolling deploy another replica may know the task: give it back a
        # few times before calling the message dead.
        error = UnknownTask(f"no task {headers.task!r} in app {self._app.name!r}")
        info = ErrorInfo.from_exception(error)
        if attempt > self._unknown_task_retries:
            return DeadLetter(info, reason="unknown task", state="dead")
        return RetryLater(delay_s=retry_delay(_UNKNOWN_TASK_POLICY, attempt), error=info)

    def _other_version(self, headers: JobHeaders, task: Task[..., Any], delivery: Delivery) -> Outcome:
        """Hand the job over to a worker with its version; dead once it waited ``version_wait_s``."""
        wanted, have = headers.task_version, task.spec.version
        waited_s = _age_s(headers.enqueued_at, delivery.timestamp_ns)
        if waited_s > self._version_wait_s:
            error = UnknownTask(
                f"no worker ran {headers.task!r} version {wanted!r} within version_wait_s="
                f"{self._version_wait_s:g}s (this worker has {have!r})"
            )
            return DeadLetter(ErrorInfo.from_exception(error), reason="no worker for its version", state="dead")
        reason = f"waiting for a worker with {headers.task!r} version {wanted!r} (a worker with {have!r} saw it)"
        return HandOver(delay_s=handover_delay(headers.handovers), reason=reason)

    async def execute(self, job: Prepared) -> Outcome:
        token = set_current(job.ctx)
        try:
            value = await self._chains[job.task.name](job.ctx)
            if value is None or not job.task.spec.store_result:
                return Succeeded(b"null")  # what encoding None gives, without the encoder
            return Succeeded(job.task.signature.encode_result(value))
        except Exception as exc:
            final = _final_error(exc, job.task)
            if final is not None:
                return final
            return decide(exc, job.ctx.attempt, job.policy)
        finally:
            reset_current(token)

    async def _invoke_class(self, task: Task[..., Any], ctx: JobContext) -> Any:
        """A task class's ``validate_input`` before the call and ``report_result`` after."""
        if task.checks_input():
            task.check_input(ctx.args, ctx.kwargs)
        value = await self._invoke(task, ctx)
        if task.reports_result():
            reported = task.report_result(value)
            if inspect.isawaitable(reported):
                await reported
        return value

    async def _invoke(self, task: Task[..., Any], ctx: JobContext) -> Any:
        kind = task.spec.kind
        if kind == "async":
            return await _with_timeout(task.fn(*ctx.args, **ctx.kwargs), ctx)
        if kind == "thread":
            call = functools.partial(contextvars.copy_context().run, task.fn, *ctx.args, **ctx.kwargs)
            future = asyncio.get_running_loop().run_in_executor(self._threads, call)
            # A thread cannot be stopped: on timeout it keeps running in the pool.
            return await _with_timeout(future, ctx)
        # The child validates again from JSON: arguments cross the process boundary as JSON, never pickled.
        wire_args, wire_kwargs = task.signature.encode_call(ctx.args, ctx.kwargs)
        return await self._processes.run(task.spec, wire_args, wire_kwargs, ctx, ctx.timeout_s)


LIMIT_ERROR = "jetjobs.errors.ResourceLimitExceeded"


async def _with_timeout(awaitable: Any, ctx: JobContext) -> Any:
    if ctx.timeout_s is None:
        return await awaitable
    try:
        async with asyncio.timeout(ctx.timeout_s) as deadline:
            return await awaitable
    except TimeoutError:
        if deadline.expired():
            raise JobTimeout(f"task {ctx.task} ran longer than {ctx.timeout_s:g}s") from None
        raise


def job_policy(policy: RetryPolicy, headers: JobHeaders, attempt: int) -> RetryPolicy | DeadLetter:
    """The retry policy of one job: its task's, with the job's own overrides; or the dead letter
    of a job whose header is malformed or whose deliveries ran out (its workers kept dying)."""
    if headers.max_retries is not None:  # a per-job override, e.g. from a schedule
        policy = dataclasses.replace(policy, max_retries=headers.max_retries)
    if headers.retry_policy is not None:  # a workflow step's own policy
        try:
            policy = policy_from_json(headers.retry_policy, policy)
        except (ValueError, TypeError, KeyError) as exc:
            error = ErrorInfo("jetjobs.errors.InvalidPayload", f"header Jetjobs-Retry-Policy: {exc}")
            return DeadLetter(error, reason="malformed message", state="dead")
    max_attempts = policy.max_attempts
    if attempt > max_attempts + LOST_DELIVERY_SLACK:
        error = ErrorInfo(
            "jetjobs.LostDeliveries",
            f"delivered {attempt} times for {max_attempts} attempts: its workers kept dying or stalling",
        )
        return DeadLetter(error, reason="deliveries lost", state="dead")
    return policy


def decode_arguments(data: bytes, task: Task[..., Any] | None) -> tuple[list[Any], dict[str, Any]] | DeadLetter:
    """The call's Python arguments (as the body has them when the task is not known here)."""
    try:
        wire_args, wire_kwargs = decode_body(data)
    except InvalidPayload as exc:
        return DeadLetter(ErrorInfo.from_exception(exc), reason="malformed message", state="dead")
    if task is None:
        return wire_args, wire_kwargs
    try:
        return task.signature.decode_call(wire_args, wire_kwargs)
    except InvalidPayload as exc:
        return DeadLetter(ErrorInfo.from_exception(exc), reason="invalid arguments", state="dead")


def _has_class_methods(task: Task[..., Any]) -> bool:
    return task.checks_input() or task.reports_result()


def _final_error(exc: Exception, task: Task[..., Any]) -> DeadLetter | None:
    """The end of a job whose error allows no retry, whatever its retry policy."""
    if isinstance(exc, JobTimeout) and task.spec.timeout_action == "fail":
        return DeadLetter(ErrorInfo.from_exception(exc), "timed out (timeout_action='fail')")
    if isinstance(exc, InvalidPayload) and task.checks_input():  # validate_input said no: retrying cannot help
        return DeadLetter(ErrorInfo.from_exception(exc), "invalid arguments", state="dead")
    if isinstance(exc, RemoteError) and exc.info.type == LIMIT_ERROR:
        return DeadLetter(exc.info, "over its max_memory")
    return None


def handover_delay(handovers: int) -> float:
    """At once for the first six hand-overs (another replica likely has the version), then 1, 2, 4, 8, 10 ... s.

    With one worker of each version a job is handed over once on average; six in a
    row happen to one job in 64. A job that no worker can run costs a publish every
    10 s until ``version_wait_s``.
    """
    return 0.0 if handovers < 6 else float(min(2 ** (handovers - 6), 10))


def _age_s(enqueued_at: str, stored_ns: int) -> float:
    try:
        since = parse_iso(enqueued_at).timestamp()
    except ValueError:
        since = stored_ns / 1e9
    return max(0.0, time.time() - since)


def _version_mismatch(headers: JobHeaders, task: Task[..., Any]) -> bool:
    return bool(headers.task_version and task.spec.version and headers.task_version != task.spec.version)


def job_fields(ctx: JobContext) -> Mapping[str, Any]:
    """Fields of a job for structured logs."""
    return {"job_id": ctx.id, "task": ctx.task, "attempt": ctx.attempt, "queue": ctx.queue}
