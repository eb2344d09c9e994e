"""Traces, metrics, health endpoints and structured logs.

Every App is instrumented when it is created: tracing costs nearly nothing
until an OpenTelemetry SDK is configured, for instance with :func:`configure`
(or ``--otel`` / ``JETJOBS_OTEL=true`` on the CLI services).

Example::

    from jetjobs import telemetry
    telemetry.configure("billing")   # OTLP, set up by the standard OTEL_* variables
"""

from .._logging import configure_logging
from . import _metrics as metrics
from ._alerts import AlertEvent, AlertHandler, AlertMonitor
from ._http import HealthServer
from ._observe import LoggingHooks, MetricsHooks, MetricsMiddleware
from ._runtime import ServiceRuntime
from ._setup import bridge_metrics, configure, instrument, shutdown
from ._tracing import TracingHooks, TracingMiddleware, enabled, workflow_span
from ._watchdog import LoopWatchdog

__all__ = [
    "AlertEvent",
    "AlertHandler",
    "AlertMonitor",
    "HealthServer",
    "LoggingHooks",
    "LoopWatchdog",
    "MetricsHooks",
    "MetricsMiddleware",
    "ServiceRuntime",
    "TracingHooks",
    "TracingMiddleware",
    "bridge_metrics",
    "configure",
    "configure_logging",
    "enabled",
    "instrument",
    "metrics",
    "shutdown",
    "workflow_span",
]
