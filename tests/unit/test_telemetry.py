"""Metrics registry, health endpoints and the event-loop watchdog (no NATS server needed)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from jetjobs import App, ConfigError
from jetjobs.telemetry import HealthServer, LoopWatchdog, ServiceRuntime
from jetjobs.telemetry._metrics import Counter, Gauge, Histogram


def test_counter_renders_labels_escaped_and_sorted() -> None:
    counter = Counter("jobs_total", "Jobs.", ("task", "outcome"))
    counter.inc(("b", "ok"))
    counter.inc(("a", 'say "hi"\n'), 2)
    assert counter.render() == [
        "# HELP jobs_total Jobs.",
        "# TYPE jobs_total counter",
        'jobs_total{task="a",outcome="say \\"hi\\"\\n"} 2',
        'jobs_total{task="b",outcome="ok"} 1',
    ]


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    histogram = Histogram("run_seconds", "Run time.", ("task",), buckets=(0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(("t",), value)
    assert histogram.render()[2:] == [
        'run_seconds_bucket{task="t",le="0.1"} 2',
        'run_seconds_bucket{task="t",le="1"} 3',
        'run_seconds_bucket{task="t",le="+Inf"} 4',
        'run_seconds_sum{task="t"} 3.65',
        'run_seconds_count{task="t"} 4',
    ]


def test_gauge_reads_its_sources_when_collected() -> None:
    gauge = Gauge("in_flight", "Running.", ("queue",))
    running = {"q": 1.0}

    def source() -> dict[tuple[str, ...], float]:
        return {(k,): v for k, v in running.items()}

    gauge.add_source(source)
    running["q"] = 3.0
    assert gauge.render()[-1] == 'in_flight{queue="q"} 3'
    gauge.remove_source(source)
    assert gauge.render()[2:] == []


async def _get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    status = int(response.split(b" ", 2)[1])
    return status, response.split(b"\r\n\r\n", 1)[1]


async def test_health_server_routes() -> None:
    ready = {"value": False}
    server = HealthServer(0, host="127.0.0.1", ready=lambda: ready["value"], alive=lambda: True)
    await server.start()
    try:
        assert await _get(server.port, "/healthz") == (200, b"ok\n")
        assert (await _get(server.port, "/readyz"))[0] == 503
        ready["value"] = True
        assert await _get(server.port, "/readyz?verbose=1") == (200, b"ready\n")
        status, body = await _get(server.port, "/metrics")
        assert status == 200
        assert b"# TYPE jetjobs_jobs_total counter" in body
        assert (await _get(server.port, "/other"))[0] == 404
        assert (await _get(server.port, "/healthz", method="POST"))[0] == 405
    finally:
        await server.stop()


async def test_a_taken_metrics_port_is_one_clear_error() -> None:
    first = HealthServer(0, host="127.0.0.1", ready=lambda: True, alive=lambda: True)
    await first.start()
    try:
        second = HealthServer(first.port, host="127.0.0.1", ready=lambda: True, alive=lambda: True)
        with pytest.raises(ConfigError, match=rf"127.0.0.1:{first.port}: already in use \(choose another"):
            await second.start()
    finally:
        await first.stop()


async def test_watchdog_names_the_task_that_blocks_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    app = App("watched", nats_url="nats://127.0.0.1:1")

    @app.task(queue="q")
    async def sleepy_sync_call() -> None:
        time.sleep(0.6)  # noqa: ASYNC251 - the mistake the watchdog exists for

    runtime = ServiceRuntime(app, port=None, ready=lambda: True)
    runtime.watchdog.threshold_s = 0.2
    await runtime.start()
    try:
        with caplog.at_level(logging.WARNING, logger="jetjobs.watchdog"):
            await asyncio.sleep(0.15)  # let the watchdog take a first heartbeat
            await sleepy_sync_call()
            await asyncio.sleep(0.15)
    finally:
        await runtime.stop()
    assert runtime.watchdog.warnings == 1
    (record,) = caplog.records
    assert "by task 'sleepy_sync_call'" in record.getMessage()
    assert "test_telemetry.py" in record.getMessage()


def test_watchdog_reports_unhealthy_when_the_loop_stops_ticking() -> None:
    watchdog = LoopWatchdog(dict, threshold_s=0.01)
    assert watchdog.healthy()
    watchdog._beat -= 1  # as if the loop had not run for a second
    assert not watchdog.healthy()
