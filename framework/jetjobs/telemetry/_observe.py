"""Metrics and logs of every job, written on the public middleware and hooks API."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from .._context import JobContext
from .._hooks import Hooks
from .._middleware import CallNext
from .._outcome import ErrorInfo
from . import _metrics

log = logging.getLogger("jetjobs.jobs")


class MetricsMiddleware:
    """Times each attempt; on a first attempt also the wait since enqueue."""

    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        labels = (job.task, job.queue)
        if job.attempt == 1 and job.enqueued_at:
            try:
                enqueued = datetime.fromisoformat(job.enqueued_at.replace("Z", "+00:00")).timestamp()
                _metrics.queue_wait.observe(labels, max(0.0, time.time() - enqueued))
            except ValueError:
                pass  # a foreign producer sent an unreadable time: no wait to report
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


class LoggingHooks(Hooks):
    """One log line per outcome (successes at DEBUG, so busy queues stay quiet)."""

    def on_success(self, job: JobContext, result_json: bytes) -> None:
        log.debug("job %s (%s) succeeded on attempt %d", job.id, job.task, job.attempt)

    def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> None:
        log.info(
            "job %s (%s) attempt %d/%d failed with %s: %s; retrying in %.1fs",
            job.id,
            job.task,
            job.attempt,
            job.max_attempts,
            error.type,
            error.message,
            delay_s,
        )

    def on_cancel(self, job: JobContext, reason: str) -> None:
        log.info("job %s (%s) cancelled itself: %s", job.id, job.task, reason)
