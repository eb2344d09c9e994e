"""One trace per job across services (OpenTelemetry messaging conventions).

* ``send jobs.<queue>`` (PRODUCER) at every enqueue and schedule fire, injected
  into the message as W3C ``traceparent``/``tracestate`` headers;
* ``process <task>`` (CONSUMER) per attempt, whose parent is the context taken
  from the message, so retries are siblings in the enqueuer's trace and a job
  enqueued inside a job continues the same trace;
* the retry decision and dead-lettering are events of the attempt's span.

Built on the public API: a producer interceptor, a Middleware (opens the span
around the task) and Hooks (record the outcome and end the span after settling).
Nothing is created unless an OpenTelemetry SDK tracer provider is installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .._context import JobContext
from .._hooks import Hooks
from .._intercept import Outgoing
from .._middleware import CallNext
from .._outcome import ErrorInfo
from .._wire import H_REPLAY_OF, H_WORKFLOW_RUN

_TRACER = "jetjobs"
SYSTEM = "nats"


_installed = False


def enabled() -> bool:
    """True when an SDK tracer provider is installed (otherwise the API is a no-op).

    Asked once per job; once a provider is installed it cannot be replaced, so
    a yes is kept.
    """
    global _installed
    if not _installed:
        provider = trace.get_tracer_provider()
        _installed = not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
    return _installed


_tracers: list[trace.Tracer] = []


def _tracer() -> trace.Tracer:
    """The SDK's tracer, made once (only called once ``enabled()``: the provider stays)."""
    if not _tracers:
        _tracers.append(trace.get_tracer(_TRACER))
    return _tracers[0]


class _TracePublish:
    """Producer interceptor: a PRODUCER span around the publish, its context in the headers."""

    active = staticmethod(enabled)

    @contextlib.contextmanager
    def __call__(self, job: Outgoing) -> Iterator[None]:
        if not enabled():
            yield
            return
        with _tracer().start_as_current_span(
            f"send jobs.{job.queue}",
            context=_replay_parent(job),
            kind=SpanKind.PRODUCER,
            attributes=_send_attributes(job),
        ):
            propagate.inject(job.headers)
            yield


def _send_attributes(job: Outgoing) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "messaging.system": SYSTEM,
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": job.subject,
        "messaging.message.id": job.job_id,
        "jetjobs.job.id": job.job_id,
        "jetjobs.task": job.task,
        "jetjobs.queue": job.queue,
        "jetjobs.priority": job.priority,
    }
    schedule = job.headers.get("Jetjobs-Meta-schedule")
    if schedule:
        attributes["jetjobs.schedule"] = schedule
    if H_REPLAY_OF in job.headers:
        attributes["jetjobs.replay_of"] = job.headers[H_REPLAY_OF]
    return attributes


def _replay_parent(job: Outgoing) -> Context | None:
    """A replayed dead letter, and a workflow step, continue the trace its message already carries
    (a step carries its run's trace: one trace per run, whichever process enqueues the step)."""
    if H_REPLAY_OF not in job.headers and H_WORKFLOW_RUN not in job.headers:
        return None
    return propagate.extract(dict(job.headers))


@contextlib.contextmanager
def workflow_span(name: str, version: str, run_id: str) -> Iterator[dict[str, str]]:
    """A short span for the start of a workflow run; yields its trace headers for the run record.

    No span stays open across processes: every step's spans join this trace through
    the headers stored with the run (empty when tracing is off).
    """
    if not enabled():
        yield {}
        return
    attributes = {"jetjobs.workflow.name": name, "jetjobs.workflow.version": version, "jetjobs.workflow.run_id": run_id}
    with _tracer().start_as_current_span(f"workflow.start {name}", kind=SpanKind.INTERNAL, attributes=attributes):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield carrier


trace_publish = _TracePublish()


class _OpenSpans:
    """Spans of attempts in progress, by (job id, attempt): the middleware opens, a hook ends."""

    def __init__(self) -> None:
        self._spans: dict[tuple[str, int], Span] = {}

    def put(self, job: JobContext, span: Span) -> None:
        self._spans[(job.id, job.attempt)] = span

    def pop(self, job: JobContext) -> Span | None:
        return self._spans.pop((job.id, job.attempt), None)


_open = _OpenSpans()
_OK = Status(StatusCode.OK)


def _process_span(job: JobContext) -> Span:
    context = propagate.extract(job.headers)
    return _tracer().start_span(
        f"process {job.task}",
        context=context,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": SYSTEM,
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
            "messaging.destination.name": job.subject,
            "messaging.consumer.group.name": job.consumer,
            "messaging.message.id": job.id,
            "messaging.nats.num_delivered": job.attempt,
            "jetjobs.job.id": job.id,
            "jetjobs.task": job.task,
            "jetjobs.queue": job.queue,
            "jetjobs.attempt": job.attempt,
            "jetjobs.max_attempts": job.max_attempts,
        },
    )


class TracingMiddleware:
    """Opens ``process <task>`` around each attempt, current while the task runs."""

    active = staticmethod(enabled)

    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        if not enabled():
            return await call_next()
        if _parent_not_sampled(job.headers) and _sampler_follows_parent():
            # The sampler would drop this attempt's span: make none. The (unsampled) trace
            # stays current, so jobs enqueued by the task carry it on, unsampled too.
            token = otel_context.attach(propagate.extract(job.headers))
            try:
                return await call_next()
            finally:
                otel_context.detach(token)
        span = _process_span(job)
        _open.put(job, span)
        # Current while the task runs (what trace.use_span does, without its generator per job).
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            return await call_next()
        except BaseException as exc:
            span.record_exception(exc)
            if not isinstance(exc, Exception):  # cancelled (shutdown): no hook will end it
                _open.pop(job)
                span.set_attribute("jetjobs.outcome", "requeued")
                span.end()
            raise
        finally:
            otel_context.detach(token)


def _parent_not_sampled(headers: Mapping[str, str]) -> bool:
    """True when the message's W3C ``traceparent`` says its trace is not sampled (flag bit 0 clear)."""
    parent = headers.get("traceparent")
    if parent is None or len(parent) != 55:
        return False
    try:
        return not int(parent[53:], 16) & 1
    except ValueError:
        return False


_follows: list[bool] = []


def _sampler_follows_parent() -> bool:
    """True when the SDK's sampler drops every span whose remote parent was not sampled: the
    default ``ParentBased`` samplers (``OTEL_TRACES_SAMPLER=parentbased_*``). Asked once."""
    if not _follows:
        sampler = getattr(trace.get_tracer_provider(), "sampler", None)
        description = sampler.get_description() if sampler is not None else ""
        _follows.append(
            description.startswith("ParentBased{") and "remoteParentNotSampled:AlwaysOffSampler" in description
        )
    return _follows[0]


class TracingHooks(Hooks):
    """Records the outcome on the attempt's span and ends it."""

    active = staticmethod(enabled)

    def on_success(self, job: JobContext, result_json: bytes) -> None:
        span = _open.pop(job)
        if span is not None:
            span.set_attribute("jetjobs.outcome", "succeeded")
            span.set_status(_OK)
            span.end()

    def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> None:
        span = _open.pop(job)
        if span is not None:
            attributes = {"error.type": error.type, "exception.message": error.message}
            span.add_event("jetjobs.retry", {**attributes, "jetjobs.retry.delay_s": delay_s})
            _fail(span, "retried", error)

    def on_failure(self, job: JobContext, error: ErrorInfo, state: str) -> None:
        if not enabled():
            return
        # A message that could not even be decoded never ran: give it a span of its own.
        span = _open.pop(job) or _process_span(job)
        attributes = {"jetjobs.state": state, "error.type": error.type, "exception.message": error.message}
        span.add_event("jetjobs.dead_letter", {**attributes, "jetjobs.attempt": job.attempt})
        _fail(span, state, error)

    def on_cancel(self, job: JobContext, reason: str) -> None:
        span = _open.pop(job)
        if span is not None:
            span.add_event("jetjobs.cancel", {"jetjobs.reason": reason})
            span.set_attribute("jetjobs.outcome", "cancelled")
            span.end()


def _fail(span: Span, outcome: str, error: ErrorInfo) -> None:
    span.set_attribute("jetjobs.outcome", outcome)
    span.set_attribute("error.type", error.type)
    span.set_status(Status(StatusCode.ERROR, f"{error.type}: {error.message}"[:500]))
    span.end()


def log_fields() -> dict[str, str]:
    """trace_id and span_id of the current span, for structured logs."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
