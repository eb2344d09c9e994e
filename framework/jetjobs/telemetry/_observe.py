"""Metrics and logs of every job, written on the public middleware and hooks API."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from .._context import JobContext
from .._hooks import Hooks
from .._logging import Redact, redact_secrets
from .._middleware import CallNext
from .._outcome import ErrorInfo
from . import _metrics

log = logging.getLogger("jetjobs.jobs")


class MetricsMiddleware:
    """Times each attempt; on a first attempt also the wait since enqueue."""

    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        labels = (job.task, job.queue)
        if job.attempt == 1 and job.stored_ns:
            # The stream's own timestamp: no text to parse, and for a delayed job it is
            # when the job came due (the forwarder stores it then), not when it was enqueued.
            _metrics.queue_wait.observe(labels, max(0.0, time.time() - job.stored_ns / 1e9))
        started = time.perf_counter()
        try:
            return await call_next()
        finally:
            _metrics.duration.observe(labels, time.perf_counter() - started)


class MetricsHooks(Hooks):
    """Counts attempts by outcome."""

    def on_success(self, job: JobContext, result_json: bytes) -> None:
        _metrics.jobs.inc((job.task, job.queue, "succeeded"))

    def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> None:
        _metrics.jobs.inc((job.task, job.queue, "retried"))

    def on_failure(self, job: JobContext, error: ErrorInfo, state: str) -> None:
        _metrics.jobs.inc((job.task, job.queue, state))

    def on_cancel(self, job: JobContext, reason: str) -> None:
        _metrics.jobs.inc((job.task, job.queue, "cancelled"))


def _fields(job: JobContext) -> dict[str, object]:
    """Hooks run after the job's context is gone: pass its fields to the log record."""
    fields: dict[str, object] = {"job_id": job.id, "task": job.task, "attempt": job.attempt, "queue": job.queue}
    traceparent = job.headers.get("traceparent", "")
    if traceparent.count("-") == 3:
        fields["trace_id"] = traceparent.split("-")[1]
    return fields


class LoggingHooks(Hooks):
    """One log line per outcome (successes at DEBUG, so busy queues stay quiet).

    With ``include_arguments`` (setting ``log_arguments``, off by default) each line also
    carries the job's arguments as ``redact(task, {"args", "kwargs"})`` returns them.
    """

    def __init__(self, *, include_arguments: bool = False, redact: Redact = redact_secrets) -> None:
        self._include = include_arguments
        self._redact = redact

    def _extra(self, job: JobContext) -> tuple[str, dict[str, object]]:
        fields = _fields(job)
        if not self._include:
            return "", fields
        try:
            shown = dict(self._redact(job.task, {"args": list(job.args), "kwargs": dict(job.kwargs)}))
        except Exception as exc:  # never log what the hook was meant to hide
            shown = {"redaction_failed": type(exc).__name__}
        fields["arguments"] = shown
        return f" arguments={json.dumps(shown, default=str)}", fields

    def on_success(self, job: JobContext, result_json: bytes) -> None:
        if log.isEnabledFor(logging.DEBUG):
            suffix, fields = self._extra(job)
            log.debug("job %s (%s) succeeded on attempt %d%s", job.id, job.task, job.attempt, suffix, extra=fields)

    def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> None:
        suffix, fields = self._extra(job)
        log.info(
            "job %s (%s) attempt %d/%d failed with %s: %s; retrying in %.1fs%s",
            job.id,
            job.task,
            job.attempt,
            job.max_attempts,
            error.type,
            error.message,
            delay_s,
            suffix,
            extra=fields,
        )

    def on_failure(self, job: JobContext, error: ErrorInfo, state: str) -> None:
        if self._include:  # the dead-letter line itself comes from the settler, without arguments
            suffix, fields = self._extra(job)
            log.warning("job %s (%s) %s with %s%s", job.id, job.task, state, error.type, suffix, extra=fields)

    def on_cancel(self, job: JobContext, reason: str) -> None:
        suffix, fields = self._extra(job)
        log.info("job %s (%s) cancelled itself: %s%s", job.id, job.task, reason, suffix, extra=fields)
