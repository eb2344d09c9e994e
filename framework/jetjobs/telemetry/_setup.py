"""Wiring: instrument an App, and the one-line OpenTelemetry setup."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, Protocol

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from .._hooks import Hooks
from .._intercept import PublishInterceptor
from .._job import Job
from .._logging import Redact, add_field_source
from .._middleware import Middleware
from .._settings import Settings
from . import _metrics
from ._observe import LoggingHooks, MetricsHooks, MetricsMiddleware
from ._tracing import TracingHooks, TracingMiddleware, log_fields, trace_publish

log = logging.getLogger("jetjobs.telemetry")


class PublishHooks(Protocol):
    """The producer's extension points (``Producer`` has them)."""

    interceptors: list[PublishInterceptor]
    on_published: list[Callable[[Job], None]]


class Instrumentable(Protocol):
    """What ``instrument`` extends: the app's middleware, hooks and producer (``App`` is one)."""

    middleware: list[Middleware]
    hooks: list[Hooks]
    log_redact: Redact

    @property
    def producer(self) -> PublishHooks: ...
    @property
    def settings(self) -> Settings: ...


def count_enqueued(job: Job) -> None:
    if not job.duplicate:  # a duplicate was dropped by JetStream: not enqueued
        _metrics.enqueued.inc((job.task, job.queue))


def instrument(app: Instrumentable) -> None:
    """Add the built-in tracing, metrics and logging to ``app`` (done by ``App()`` itself)."""
    # Tracing is outermost, so the metrics middleware and the task run inside the span.
    app.middleware[:0] = [TracingMiddleware(), MetricsMiddleware()]
    logs = LoggingHooks(include_arguments=app.settings.log_arguments, redact=app.log_redact)
    app.hooks.extend([TracingHooks(), MetricsHooks(), logs])
    app.producer.interceptors.append(trace_publish)
    app.producer.on_published.append(count_enqueued)
    add_field_source(log_fields)


def configure(
    service_name: str | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    metric_exporter: MetricExporter | None = None,
) -> TracerProvider:
    """Export traces (and metrics) over OTLP, configured by the standard ``OTEL_*`` variables.

    ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf`` by
    default, or ``grpc``), ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_TRACES_SAMPLER``... ``OTEL_METRICS_EXPORTER=none`` turns metric export off
    (the Prometheus endpoint stays). Pass exporters to send elsewhere (tests, in-memory).

    Example::

        from jetjobs import telemetry
        telemetry.configure("billing")
    """
    attributes: dict[str, Any] = {}
    if service_name and not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = service_name
    resource = Resource.create(attributes)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(span_exporter or _otlp_span_exporter()))
    trace.set_tracer_provider(provider)
    if metric_exporter is not None or os.environ.get("OTEL_METRICS_EXPORTER", "otlp") != "none":
        bridge_metrics(resource, metric_exporter or _otlp_metric_exporter())
    return provider


def shutdown() -> None:
    """Flush and stop exporters (spans still in the batch processor are sent)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.shutdown()


def _protocol(signal: str) -> str:
    return os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )


def _otlp_span_exporter() -> SpanExporter:
    if _protocol("TRACES") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

        return GrpcSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _otlp_metric_exporter() -> MetricExporter:
    if _protocol("METRICS") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter

        return GrpcMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def bridge_metrics(resource: Resource, exporter: MetricExporter) -> MeterProvider:
    """Export the registry's metrics through OpenTelemetry (read only when the exporter collects).

    Histograms cross as their ``_sum`` and ``_count`` (OpenTelemetry has no observable
    histogram); the Prometheus endpoint has the buckets.
    """
    provider = MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(exporter)])
    metrics.set_meter_provider(provider)
    meter = provider.get_meter("jetjobs")
    name = _metrics.exposed
    for counter in (_metrics.jobs, _metrics.enqueued, _metrics.schedule_fires):
        meter.create_observable_counter(name(counter.name), [_counter_callback(counter)], description=counter.help)
    for histogram in (_metrics.duration, _metrics.queue_wait):
        meter.create_observable_counter(f"{name(histogram.name)}_sum", [_sum_callback(histogram)], unit="s")
        meter.create_observable_counter(f"{name(histogram.name)}_count", [_count_callback(histogram)])
    for gauge in (_metrics.in_flight, _metrics.backlog, _metrics.alert_active):
        meter.create_observable_gauge(name(gauge.name), [_gauge_callback(gauge)], description=gauge.help)
    return provider


def _attrs(names: tuple[str, ...], values: tuple[str, ...]) -> dict[str, str]:
    return {**_metrics.constant_labels(), **dict(zip(names, values, strict=True))}


def _counter_callback(counter: _metrics.Counter) -> Any:
    def observe(options: CallbackOptions) -> list[Observation]:
        return [Observation(v, _attrs(counter.label_names, k)) for k, v in list(counter.values.items())]

    return observe


def _sum_callback(histogram: _metrics.Histogram) -> Any:
    def observe(options: CallbackOptions) -> list[Observation]:
        return [Observation(v, _attrs(histogram.label_names, k)) for k, v in list(histogram.sums.items())]

    return observe


def _count_callback(histogram: _metrics.Histogram) -> Any:
    def observe(options: CallbackOptions) -> list[Observation]:
        return [Observation(sum(c), _attrs(histogram.label_names, k)) for k, c in list(histogram.counts.items())]

    return observe


def _gauge_callback(gauge: _metrics.Gauge) -> Any:
    def observe(options: CallbackOptions) -> list[Observation]:
        return [Observation(v, _attrs(gauge.label_names, k)) for k, v in gauge.read().items()]

    return observe
