"""The bench's jetjobs app, run as ``jetjobs worker bench.tasks:app`` by bench/run.py.

One async no-op task on queue ``bench`` taking one dict. It notes ``time.time()`` on
its first line and reports it over UDP, configured only by variables the bench sets
(``JETJOBS_*`` names are reserved for jetjobs settings, so ours are ``BENCH_*``):

* ``BENCH_REPORT_ADDR``  ``host:port`` of the bench's UDP socket; unset: report nothing.
* ``BENCH_MODE``         ``latency``: one datagram ``"<i> <start>"`` per job;
                         ``drain``: one datagram once ``BENCH_EXPECT`` handlers have
                         started (see ``DrainReport``; per job only a counter, so the
                         report does not slow the drain);
                         ``progress``: one datagram ``"<count> <start> <awaiting>"``
                         every ``BENCH_EVERY`` handler starts and at the
                         ``BENCH_EXPECT``-th, ``awaiting`` the most
                         publishes (result writes) that awaited the server's answer
                         at a handler start since the last one (bench/memory.py);
                         ``shared_drain``: per process, running totals every 20 ms while it
                         starts jobs (``SharedDrainReport``: ``--processes N`` shares the drain).
* ``BENCH_EXPECT``       handler starts to wait for in drain and progress mode.
* ``BENCH_EVERY``        handler starts between two reports in progress mode.
* ``BENCH_STORE``        ``0``: the task has ``store_result=False`` (default: results stored).
* ``BENCH_TRACING``      ``1``: tracing on, through ``jetjobs.telemetry.configure`` with the
                         standard batch span processor and an exporter that drops the
                         batches (what tracing costs in the process, without a network).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bench._reports import DrainReport, SharedDrainReport, udp_sender
from jetjobs import App, Task, telemetry

QUEUE = "bench"
TASK = "noop"

Report = Callable[[dict[str, Any], float], None]


def _drain_report(expect: int, send: Callable[[str], None]) -> Report:
    drain = DrainReport(expect, send)

    def report(payload: dict[str, Any], started: float) -> None:
        drain.started(started)

    return report


def _latency_report(send: Callable[[str], None]) -> Report:
    def report(payload: dict[str, Any], started: float) -> None:
        send(f"{payload['i']} {started!r}")

    return report


def _progress_report(every: int, expect: int, send: Callable[[str], None], awaiting: Callable[[], int]) -> Report:
    count = peak = 0

    def report(payload: dict[str, Any], started: float) -> None:
        nonlocal count, peak
        count += 1
        peak = max(peak, awaiting())
        if count % every == 0 or count == expect:
            send(f"{count} {started!r} {peak}")
            peak = 0

    return report


def _awaiting_answers() -> int:
    """Publishes of this worker (result writes) still awaiting the server's answer."""
    return app.connection.acks.waiting


def _no_report(payload: dict[str, Any], started: float) -> None:
    return None


def reporter_from_env(environ: Mapping[str, str] = os.environ) -> Report:
    addr = environ.get("BENCH_REPORT_ADDR")
    mode = environ.get("BENCH_MODE", "")
    if not addr:
        return _no_report
    if mode == "latency":
        return _latency_report(udp_sender(addr))
    if mode == "drain":
        return _drain_report(int(environ["BENCH_EXPECT"]), udp_sender(addr))
    if mode == "progress":
        every, expect = int(environ["BENCH_EVERY"]), int(environ["BENCH_EXPECT"])
        return _progress_report(every, expect, udp_sender(addr), _awaiting_answers)
    if mode == "shared_drain":
        shared = SharedDrainReport(udp_sender(addr))
        return lambda payload, started: shared.started(started)
    raise ValueError(f"BENCH_MODE must be 'latency', 'drain', 'progress' or 'shared_drain', not {mode!r}")


_report = reporter_from_env()


class DroppingExporter(SpanExporter):
    """Receives every batch like a real exporter and sends it nowhere (it only counts the spans)."""

    spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        DroppingExporter.spans += len(spans)
        return SpanExportResult.SUCCESS


def trace_from_env(environ: Mapping[str, str] = os.environ) -> None:
    if environ.get("BENCH_TRACING") == "1":
        os.environ["OTEL_METRICS_EXPORTER"] = "none"  # traces only: the metrics endpoint is not measured
        telemetry.configure("bench", span_exporter=DroppingExporter())


trace_from_env()


async def noop(payload: dict[str, Any]) -> None:
    """Does nothing but note when it started."""
    started = time.time()
    _report(payload, started)


def build_app(*, store_result: bool = True, **settings: Any) -> tuple[App, Task[..., Any]]:
    """A fresh App with the task; the bench makes one per nats-server (settings are fixed per App)."""
    bench_app = App("bench", **settings)
    task: Task[..., Any] = bench_app.task(queue=QUEUE, name=TASK, store_result=store_result)(noop)
    return bench_app, task


app, noop_task = build_app(store_result=os.environ.get("BENCH_STORE", "1") != "0")
