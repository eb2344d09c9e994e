"""Every error jetjobs raises, and the control-flow exceptions tasks raise.

The tree::

    JetjobsError                      base of everything below
    ├── ConfigError                   invalid settings or declarations (also a ValueError)
    ├── InvalidPayload                arguments or message body do not fit the task (also a ValueError)
    │   └── PayloadTooLarge           encoded job is bigger than the server's max_payload
    ├── UnknownTask                   no task of that name is registered (also a LookupError)
    ├── QueueFull                     the queue is at its max_length; nothing was published
    ├── DuplicateJob                  a unique task has a live job for that key (unique_policy="reject")
    ├── ConnectionFailed              NATS unreachable, refused or closed the connection (a ConnectionError)
    │   └── ServerTooOld              the server lacks a JetStream feature jetjobs needs
    ├── PermissionDenied              NATS refused a publish or subscribe (permissions violation); names the subject
    ├── JobNotFound                   no status is stored for that job id (also a LookupError)
    ├── ResultTimeout                 the job did not finish in time (also a TimeoutError)
    ├── JobTimeout                    a running job exceeded its timeout_s (also a TimeoutError)
    ├── ResourceLimitExceeded         a cpu_bound job went over its max_memory (never retried)
    ├── JobFailed                     the job ended failed/dead; carries the remote error
    │   └── JobCancelled              the job was cancelled
    ├── WorkflowFailed                a workflow run ended without success; names the failing step
    ├── WorkflowNotFound              no workflow or run by that name or id (also a LookupError)
    ├── OutputTooLarge                a workflow step's output is over the hard cap (never retried)
    └── TaskControl                   raised *inside* a task to steer its outcome
        ├── Retry(delay_s=None)       ask for another attempt, optionally after delay_s
        └── Cancel(reason)            stop now: no retry, no dead letter

Example::

    from jetjobs import Retry

    @app.task(queue="emails", max_retries=5)
    async def send_email(to: str) -> None:
        if not await smtp_is_up():
            raise Retry(delay_s=30)   # counts as an attempt; backs off 30 s
"""

from __future__ import annotations

__all__ = [
    "Cancel",
    "ConfigError",
    "ConnectionFailed",
    "DuplicateJob",
    "InvalidPayload",
    "JetjobsError",
    "JobCancelled",
    "JobFailed",
    "JobNotFound",
    "JobTimeout",
    "OutputTooLarge",
    "PayloadTooLarge",
    "PermissionDenied",
    "QueueFull",
    "ResourceLimitExceeded",
    "ResultTimeout",
    "Retry",
    "ServerTooOld",
    "TaskControl",
    "UnknownTask",
    "WorkflowFailed",
    "WorkflowNotFound",
]


class JetjobsError(Exception):
    """Base class of every error raised by jetjobs."""


class ConfigError(JetjobsError, ValueError):
    """A setting, queue or task declaration is invalid."""


class InvalidPayload(JetjobsError, ValueError):
    """Job arguments or a message body do not match the task's contract."""


class PayloadTooLarge(InvalidPayload):
    """The encoded job exceeds the server's ``max_payload``."""


class UnknownTask(JetjobsError, LookupError):
    """No task with this name is registered."""


class QueueFull(JetjobsError):
    """The queue holds ``max_length`` jobs already; the new job was not enqueued."""

    def __init__(self, queue: str, max_length: int | None = None) -> None:
        limit = f": it holds max_length={max_length} jobs" if max_length is not None else ""
        super().__init__(f"queue {queue!r} is full{limit}; the job was not enqueued (retry later or raise max_length)")
        self.queue = queue
        self.max_length = max_length


class DuplicateJob(JetjobsError):
    """A ``unique=True`` task already has a live job for this key; nothing was enqueued.

    ``holder`` is the id of the job that holds the key (``app.job(exc.holder)``).
    """

    def __init__(self, task: str, key: str, holder: str) -> None:
        super().__init__(
            f"task {task!r} already has a live job for unique key {key!r}: job {holder} "
            "(unique_policy='reject'; the key frees when that job ends)"
        )
        self.task = task
        self.key = key
        self.holder = holder


class ConnectionFailed(JetjobsError, ConnectionError):
    """The NATS server could not be reached, refused the connection, or closed it for good while in use."""


class ServerTooOld(ConnectionFailed):
    """The NATS server is older than what jetjobs needs, or JetStream is off."""


class PermissionDenied(JetjobsError, PermissionError):
    """NATS refused a publish or a subscription of this connection's user (permissions violation).

    ``operation`` is ``"publish"`` or ``"subscribe"``, ``subject`` the subject as the
    server named it; ``jetjobs permissions --role ...`` prints what each role needs.
    """

    def __init__(self, operation: str, subject: str, hint: str = "") -> None:
        detail = f"; {hint}" if hint else ""
        super().__init__(f"NATS denied {operation} to {subject!r} (permissions violation){detail}")
        self.operation = operation
        self.subject = subject
        self.hint = hint


class JobNotFound(JetjobsError, LookupError):
    """No status is stored for this job id (never enqueued, or expired)."""


class ResultTimeout(JetjobsError, TimeoutError):
    """Waiting for a job's result took longer than the caller allowed."""


class JobTimeout(JetjobsError, TimeoutError):
    """A job ran longer than its ``timeout_s`` and was stopped."""


class ResourceLimitExceeded(JetjobsError):
    """A ``cpu_bound`` job went over its ``max_memory``; the job fails without a retry."""


class JobFailed(JetjobsError):
    """The job ended in a failed or dead state.

    Carries the error as it was raised in the worker, which may be another
    service: ``error_type`` is the qualified class name, ``traceback`` an excerpt.
    """

    def __init__(self, job_id: str, state: str, error_type: str, message: str, traceback: str = "") -> None:
        super().__init__(f"job {job_id} {state}: {error_type}: {message}")
        self.job_id = job_id
        self.state = state
        self.error_type = error_type
        self.message = message
        self.traceback = traceback


class JobCancelled(JobFailed):
    """The job was cancelled before it could succeed."""


class TaskControl(JetjobsError):
    """Base of the exceptions a task raises to choose its own outcome."""


class Retry(TaskControl):
    """Ask for another attempt of the current job.

    The attempt counts against ``max_retries``; when none are left the job is
    dead-lettered. Without ``delay_s`` the task's backoff policy picks the delay.

    Example::

        raise Retry(delay_s=10)
    """

    def __init__(self, delay_s: float | None = None, reason: str = "") -> None:
        if delay_s is not None and delay_s < 0:
            raise ValueError("Retry(delay_s=...) must be >= 0")
        super().__init__(reason or "retry requested")
        self.delay_s = delay_s
        self.reason = reason


class Cancel(TaskControl):
    """Stop the current job for good: no retry and no dead letter.

    Example::

        if order.is_void:
            raise Cancel("order was voided")
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or "cancelled by the task")
        self.reason = reason


class WorkflowFailed(JetjobsError):
    """A workflow run ended without success; says which step failed and how.

    ``state`` is the run's final state (failed, compensated, compensation_failed,
    cancelled, timed_out); ``step``, ``error_type``, ``message`` and ``traceback``
    describe the step error that caused it, when there was one.
    """

    def __init__(
        self,
        run_id: str,
        state: str,
        *,
        step: str | None = None,
        error_type: str = "",
        message: str = "",
        traceback: str = "",
    ) -> None:
        self.run_id = run_id
        self.state = state
        self.step = step
        self.error_type = error_type
        self.message = message
        self.traceback = traceback
        cause = f": step {step!r} raised {error_type}: {message}" if step else (f": {message}" if message else "")
        super().__init__(f"workflow run {run_id} {state}{cause}")


class WorkflowNotFound(JetjobsError, LookupError):
    """No workflow (or run) by that name or id."""


class OutputTooLarge(JetjobsError):
    """A workflow step returned more than ``workflow_max_output_bytes``: it fails for good."""
