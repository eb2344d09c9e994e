"""One trace per job across OS processes, exported over OTLP/HTTP to a real receiver; metrics and probes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from jetjobs import App, JobFailed
from jetjobs.testing import NatsServer, free_port
from tests.conftest import ROOT
from tests.e2e.conftest import StartWorker
from tests.e2e.otlp import OtlpReceiver, Span
from tests.helpers import eventually


def otel_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRICS_EXPORTER": "none",
        "JETJOBS_OTEL": "true",
    }


def only(spans: list[Span], **match: object) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(s.name, s.service) for s in spans])
    return found[0]


async def test_one_trace_follows_a_job_through_retries_and_into_another_service(
    jetjobs_server: NatsServer, start_worker: StartWorker
) -> None:
    with OtlpReceiver() as receiver:
        env = otel_env(receiver)
        services = [
            start_worker(app="tests.apps.traced_a:app", env=env),
            start_worker(app="tests.apps.traced_b:app", env=env),
            start_worker(app="tests.apps.traced_a:app", role="scheduler", env=env),
        ]
        publisher_env = {k: v for k, v in os.environ.items() if not k.startswith("JETJOBS_")}
        publisher_env.update(env, JETJOBS_NATS_URL=jetjobs_server.url, PYTHONPATH=ROOT)
        publisher_env.pop("JETJOBS_OTEL")
        command = [sys.executable, "-m", "tests.apps.traced_publisher"]
        published = await asyncio.to_thread(
            subprocess.run, command, cwd=ROOT, env=publisher_env, timeout=60, check=False
        )
        assert published.returncode == 0
        async with App("reader", nats_url=jetjobs_server.url) as reader:
            assert await reader.result("follow-o-1", timeout_s=20) == "followed o-1"
            assert await reader.result("o-1", timeout_s=5) == "ok"
            with pytest.raises(JobFailed, match="no luck"):
                await reader.result("doomed", timeout_s=10)
        for service in services:  # a graceful stop flushes the span exporter
            service.stop()

        def complete() -> bool:
            spans = receiver.snapshot()
            return any(s.name == "process follow_up" for s in spans) and any(
                s.attributes.get("jetjobs.schedule") == "heartbeat" for s in spans
            )

        await eventually(complete, timeout_s=15)
        spans = receiver.snapshot()

    request = only(spans, name="POST /orders")
    trace = [s for s in spans if s.trace_id == request.trace_id]
    send = only(trace, name="send jobs.a", service="publisher")
    assert (send.kind, send.parent_id) == ("PRODUCER", request.span_id)
    assert send.attributes["messaging.system"] == "nats"
    assert send.attributes["messaging.destination.name"] == "jobs.a.normal"
    assert send.attributes["messaging.message.id"] == "o-1"

    attempts = sorted(
        (s for s in trace if s.name == "process flaky_then_ok"), key=lambda s: s.attributes["jetjobs.attempt"]
    )
    assert [s.attributes["jetjobs.attempt"] for s in attempts] == [1, 2, 3]
    assert {(s.kind, s.parent_id, s.service) for s in attempts} == {("CONSUMER", send.span_id, "orders-worker")}
    assert [s.attributes["jetjobs.outcome"] for s in attempts] == ["retried", "retried", "succeeded"]
    assert [e[0] for e in attempts[0].events] == ["exception", "jetjobs.retry"]
    assert attempts[0].attributes["messaging.consumer.group.name"] == "a-normal"
    assert attempts[0].attributes["messaging.nats.num_delivered"] == 1

    follow_send = only(trace, name="send jobs.b")
    assert (follow_send.kind, follow_send.parent_id) == ("PRODUCER", attempts[2].span_id)
    follow = only(trace, name="process follow_up")
    assert (follow.kind, follow.parent_id, follow.service) == ("CONSUMER", follow_send.span_id, "notify-worker")

    doomed = sorted(
        (s for s in spans if s.name == "process always_fails"), key=lambda s: s.attributes["jetjobs.attempt"]
    )
    assert len(doomed) == 2
    assert len({s.trace_id for s in doomed}) == 1
    assert doomed[0].trace_id != request.trace_id
    dead_letter = dict(doomed[1].events)["jetjobs.dead_letter"]
    assert dead_letter["jetjobs.state"] == "failed"
    assert dead_letter["error.type"] == "RuntimeError"

    fires = [s for s in spans if s.attributes.get("jetjobs.schedule") == "heartbeat"]
    assert fires
    assert all(s.parent_id == "" and s.kind == "PRODUCER" and s.service == "orders-worker" for s in fires)
    fired = {s.trace_id for s in spans if s.name == "process heartbeat"}
    assert fired <= {s.trace_id for s in fires}  # each run sits in its fire's trace
    assert fired


def scrape(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_and_probes_follow_the_worker(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    port = free_port()
    start_worker("--metrics-port", str(port), "--concurrency", "2", env={"JETJOBS_METRICS_HOST": "127.0.0.1"})
    assert scrape(port, "/healthz")[0] == 200
    assert scrape(port, "/readyz")[0] == 200
    _, before = scrape(port, "/metrics")
    assert "# TYPE jetjobs_jobs_total counter" in before
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        jobs = [await producer.enqueue("record", kwargs={"n": i, "sleep_s": 0.3}, queue="work") for i in range(6)]
        await eventually(
            lambda: (sample(scrape(port, "/metrics")[1], "jetjobs_jobs_in_flight", queue="work") or 0) == 2
        )
        for job in jobs:
            await job.result(timeout_s=20)
    await eventually(
        lambda: sample(scrape(port, "/metrics")[1], "jetjobs_jobs_total", task="record", outcome="succeeded") == 6
    )
    _, after = scrape(port, "/metrics")
    assert sample(after, "jetjobs_job_duration_seconds_count", task="record", queue="work") == 6
    assert (sample(after, "jetjobs_job_duration_seconds_sum", task="record", queue="work") or 0) >= 6 * 0.3
    assert sample(after, "jetjobs_queue_backlog", queue="work", priority="normal") is not None

    await asyncio.to_thread(jetjobs_server.stop)
    await eventually(lambda: scrape(port, "/readyz")[0] == 503, timeout_s=20)
    assert scrape(port, "/healthz")[0] == 200  # alive, just not ready
    await asyncio.to_thread(jetjobs_server.start)
    await eventually(lambda: scrape(port, "/readyz")[0] == 200, timeout_s=30)
    assert scrape(port, "/nope")[0] == 404
