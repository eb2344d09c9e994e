"""What happens to a job after an attempt: pure values and pure decisions.

``decide(error, attempt, policy)`` is the one place that says what a failure
leads to; the settler turns its answer into ack / nak / dead letter.
"""

from __future__ import annotations

import random
import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ._retry import RetryPolicy, retry_delay
from .errors import Cancel, JobTimeout, Retry

_TRACEBACK_LIMIT = 4000


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error reduced to values that can cross process and language boundaries."""

    type: str
    message: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        kind = type(exc)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        text = "".join(tb.format_exception(exc))
        if len(text) > _TRACEBACK_LIMIT:
            text = "…" + text[-_TRACEBACK_LIMIT:]
        return cls(type=name, message=str(exc), traceback=text)


@dataclass(frozen=True, slots=True)
class Succeeded:
    """The task returned; ``result`` is its JSON-encoded return value."""

    result: bytes


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Another attempt after ``delay_s`` (nak with delay)."""

    delay_s: float
    error: ErrorInfo


DeadState = Literal["failed", "dead"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """No more attempts: publish to the DLQ, then terminate the message.

    ``state`` is ``failed`` when the task ran and failed for good, ``dead`` when the
    message could not be run at all (malformed, unknown task, lost deliveries).
    """

    error: ErrorInfo
    reason: str
    state: DeadState = "failed"


@dataclass(frozen=True, slots=True)
class Cancelled:
    """Stop for good without a dead letter."""

    reason: str


@dataclass(frozen=True, slots=True)
class Requeue:
    """Give the message back at once, e.g. on shutdown (nak without delay)."""

    reason: str


@dataclass(frozen=True, slots=True)
class HandOver:
    """Publish the job again for another worker (after ``delay_s``), then ack.

    For a job that wants a task version this worker does not have: unlike a nak,
    the new message starts with a fresh delivery count, so the hand-overs use up
    none of the job's attempts.
    """

    delay_s: float
    reason: str


Outcome = Succeeded | RetryLater | DeadLetter | Cancelled | Requeue | HandOver


class RemoteError(Exception):
    """An error raised in another process (a cpu_bound task), carried back as values.

    ``mro`` holds the qualified names of the error's classes, so ``retry_for``
    still applies without the exception object.
    """

    def __init__(self, info: ErrorInfo, mro: tuple[str, ...]) -> None:
        super().__init__(info.message)
        self.info = info
        self.mro = mro


def _qualified(kind: type[BaseException]) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _type_names(error: BaseException) -> set[str]:
    mro = error.mro if isinstance(error, RemoteError) else tuple(_qualified(k) for k in type(error).__mro__)
    qualified = set(mro)
    return qualified | {name.rsplit(".", 1)[-1] for name in qualified}


def _is_retryable(error: BaseException, policy: RetryPolicy) -> bool:
    if isinstance(error, Retry | JobTimeout):
        return True
    if policy.retry_on:
        return bool(_type_names(error) & set(policy.retry_on))
    if isinstance(error, RemoteError):
        return any(_qualified(kind) in error.mro for kind in policy.retry_for)
    return isinstance(error, policy.retry_for)


def decide(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy,
    *,
    rand: Callable[[], float] = random.random,
) -> Outcome:
    """Pick the outcome of a failed attempt.

    ``attempt`` is 1 for the first delivery. Cancel wins; otherwise a job is
    retried while it has attempts left and the error is retryable (``Retry``,
    a timeout, or an instance of ``policy.retry_for``); else it is dead-lettered.
    """
    info = error.info if isinstance(error, RemoteError) else ErrorInfo.from_exception(error)
    if isinstance(error, Cancel):
        return Cancelled(reason=error.reason or info.message)
    if not _is_retryable(error, policy):
        listed = "retry_on" if policy.retry_on else "retry_for"
        return DeadLetter(info, reason=f"{info.type} is not in {listed}")
    if attempt >= policy.max_attempts:
        return DeadLetter(info, reason=f"gave up after {attempt} attempt{'s' if attempt > 1 else ''}")
    if isinstance(error, Retry) and error.delay_s is not None:
        return RetryLater(delay_s=error.delay_s, error=info)
    return RetryLater(delay_s=retry_delay(policy, attempt, rand=rand), error=info)
