"""Hooks observe outcomes; they run after the job is settled and can never block it."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import Any

from ._context import JobContext
from ._outcome import Cancelled, DeadLetter, ErrorInfo, Outcome, RetryLater, Succeeded

log = logging.getLogger("jetjobs.hooks")


class Hooks:
    """Subclass and override what you need; every method may be sync or async.

    ``on_success`` gets the JSON-encoded result (``b"null"`` when the task does not store results).

    Example::

        class Alerts(Hooks):
            async def on_failure(self, job, error, state):
                await pager.send(f"{job.task} {job.id} {state}: {error.message}")

        app = App("billing", hooks=[Alerts()])
    """

    def on_success(self, job: JobContext, result_json: bytes) -> Any:
        """The attempt succeeded."""

    def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> Any:
        """The attempt failed and the job will run again after ``delay_s``."""

    def on_failure(self, job: JobContext, error: ErrorInfo, state: str) -> Any:
        """The job failed for good (``state`` is 'failed' or 'dead') and went to the DLQ."""

    def on_cancel(self, job: JobContext, reason: str) -> Any:
        """The task cancelled itself."""


async def run_hooks(hooks: Sequence[Hooks], job: JobContext, outcome: Outcome) -> None:
    """Call every hook for ``outcome``; a failing hook is logged and skipped."""
    for hook in hooks:
        try:
            result: Any = None
            if isinstance(outcome, Succeeded):
                result = hook.on_success(job, outcome.result)
            elif isinstance(outcome, RetryLater):
                result = hook.on_retry(job, outcome.error, outcome.delay_s)
            elif isinstance(outcome, DeadLetter):
                result = hook.on_failure(job, outcome.error, outcome.state)
            elif isinstance(outcome, Cancelled):
                result = hook.on_cancel(job, outcome.reason)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("hook %r failed for job %s (%s); ignored", hook, job.id, job.task)
