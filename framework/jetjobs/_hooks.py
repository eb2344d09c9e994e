"""Hooks observe outcomes; they run after the job is settled and can never block it."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
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


class HookRunner:
    """The hooks of one task, as per-outcome lists built once (no-op methods left out)."""

    def __init__(self, hooks: Sequence[Hooks]) -> None:
        active = [h for h in hooks if is_active(h)]
        self._by_outcome: dict[type, list[Callable[..., Any]]] = {
            Succeeded: _overridden(active, "on_success"),
            RetryLater: _overridden(active, "on_retry"),
            DeadLetter: _overridden(active, "on_failure"),
            Cancelled: _overridden(active, "on_cancel"),
        }

    async def run(self, job: JobContext, outcome: Outcome) -> None:
        """Call every hook for ``outcome``; a failing hook is logged and skipped."""
        methods = self._by_outcome.get(type(outcome))
        if not methods:
            return
        for method in methods:
            try:
                if isinstance(outcome, Succeeded):
                    result = method(job, outcome.result)
                elif isinstance(outcome, RetryLater):
                    result = method(job, outcome.error, outcome.delay_s)
                elif isinstance(outcome, DeadLetter):
                    result = method(job, outcome.error, outcome.state)
                else:
                    result = method(job, outcome.reason)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("hook %r failed for job %s (%s); ignored", method, job.id, job.task)


def is_active(part: object) -> bool:
    """Built-in middleware and hooks say whether they have work (tracing without an SDK has none)."""
    active = getattr(part, "active", None)
    return bool(active()) if callable(active) else True


def _overridden(hooks: Sequence[Hooks], name: str) -> list[Callable[..., Any]]:
    return [getattr(h, name) for h in hooks if getattr(type(h), name, None) is not getattr(Hooks, name)]


async def run_hooks(hooks: Sequence[Hooks], job: JobContext, outcome: Outcome) -> None:
    """Call every hook for ``outcome``; a failing hook is logged and skipped."""
    await HookRunner(hooks).run(job, outcome)
