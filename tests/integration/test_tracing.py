"""Tracing in-process with an in-memory exporter: nested jobs, replays and poison messages."""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind

from jetjobs import App, JobContext, JobFailed, current_job
from jetjobs.telemetry import _tracing
from tests.helpers import AppFactory, eventually, running_worker


def named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


def register(app: App, state: dict[str, int]) -> None:
    @app.task(queue="t")
    async def parent_job() -> str:
        child = await app.enqueue("child_job", queue="t", job_id=f"child-of-{current_job().id}")
        return child.id

    @app.task(queue="t")
    async def child_job() -> None:
        pass

    @app.task(queue="t", max_retries=0)
    async def fragile() -> str:
        state["runs"] = state.get("runs", 0) + 1
        if state["runs"] == 1:
            raise ValueError("first run breaks")
        return "fixed"


async def test_a_job_enqueued_inside_a_job_continues_the_trace(
    app_factory: AppFactory, spans: InMemorySpanExporter
) -> None:
    state: dict[str, int] = {}
    worker_app, producer = app_factory(lambda a: register(a, state)), app_factory(lambda a: register(a, state))
    async with running_worker(worker_app), producer:
        job = await producer.tasks["parent_job"].enqueue()
        child_id = await job.result(timeout_s=10)
        await producer.result(child_id, timeout_s=10)
        await eventually(lambda: len(named(spans, "process child_job")) == 1)
    (parent,) = named(spans, "process parent_job")
    (child,) = named(spans, "process child_job")
    child_sends = [s for s in named(spans, "send jobs.t") if s.attributes["messaging.message.id"] == child_id]
    assert len(child_sends) == 1
    assert child_sends[0].parent is not None
    assert child_sends[0].parent.span_id == parent.context.span_id
    assert child.context.trace_id == parent.context.trace_id
    assert child.kind is SpanKind.CONSUMER


async def test_a_replayed_dead_letter_stays_in_its_original_trace(
    app_factory: AppFactory, spans: InMemorySpanExporter
) -> None:
    state: dict[str, int] = {}
    worker_app, producer = app_factory(lambda a: register(a, state)), app_factory(lambda a: register(a, state))
    async with running_worker(worker_app), producer:
        job = await producer.tasks["fragile"].enqueue()
        with pytest.raises(JobFailed, match="first run breaks"):
            await job.result(timeout_s=10)
        (dead,) = await producer.dead_letters.list("t")
        await producer.dead_letters.replay(dead.seq)
        assert await producer.result(job.id, timeout_s=10) == "fixed"
        await eventually(lambda: len(named(spans, "process fragile")) == 2)
    first, second = sorted(named(spans, "process fragile"), key=lambda s: s.start_time or 0)
    sends = sorted(named(spans, "send jobs.t"), key=lambda s: s.start_time or 0)
    original, replay = sends
    assert {s.context.trace_id for s in (first, second, original, replay)} == {original.context.trace_id}
    assert [e.name for e in first.events][-1] == "jetjobs.dead_letter"
    assert replay.attributes["jetjobs.replay_of"] == str(dead.seq)
    assert replay.parent is not None
    assert replay.parent.span_id == original.context.span_id
    assert second.parent is not None
    assert second.parent.span_id == replay.context.span_id
    assert second.attributes["jetjobs.outcome"] == "succeeded"


async def test_a_poison_message_gets_a_span_with_the_dead_letter_event(
    app_factory: AppFactory, spans: InMemorySpanExporter, raw_nc: Client
) -> None:
    state: dict[str, int] = {}
    app = app_factory(lambda a: register(a, state))
    async with running_worker(app):
        headers = {"Jetjobs-Job-Id": "poison-1", "Jetjobs-Task": "child_job"}
        await raw_nc.jetstream().publish("jobs.t.normal", b"not json", headers=headers)
        await eventually(lambda: len(named(spans, "process child_job")) == 1)
    (span,) = named(spans, "process child_job")
    (event,) = [e for e in span.events if e.name == "jetjobs.dead_letter"]
    assert event.attributes is not None
    assert event.attributes["jetjobs.state"] == "dead"
    assert span.attributes["jetjobs.job.id"] == "poison-1"


async def test_a_job_whose_trace_is_not_sampled_makes_no_span_and_passes_the_trace_on(
    app_factory: AppFactory, spans: InMemorySpanExporter, raw_nc: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default sampler follows the parent: an unsampled trace costs no span, and a job it
    enqueues carries the same trace on, still unsampled (sampling is the tracing cost knob)."""
    seen: dict[str, str] = {}
    made: list[str] = []
    process_span = _tracing._process_span

    def counting(job: JobContext) -> Span:
        made.append(job.id)
        return process_span(job)

    monkeypatch.setattr(_tracing, "_process_span", counting)
    trace_id = "0af7651916cd43dd8448eb211c80319c"

    def tasks(app: App) -> None:
        @app.task(queue="t")
        async def unsampled_parent() -> str:
            child = await app.enqueue("unsampled_child", queue="t", job_id="unsampled-child")
            return child.id

        @app.task(queue="t")
        async def unsampled_child() -> None:
            seen["child"] = current_job().headers.get("traceparent", "")

    worker_app = app_factory(tasks)
    async with running_worker(worker_app):
        await raw_nc.jetstream().publish(
            "jobs.t.normal",
            b'{"args":[],"kwargs":{}}',
            headers={
                "Nats-Msg-Id": "unsampled-parent",
                "Jetjobs-Job-Id": "unsampled-parent",
                "Jetjobs-Task": "unsampled_parent",
                "Jetjobs-Enqueued-At": "2026-12-04T10:00:00.000000Z",
                "Content-Type": "application/json",
                "traceparent": f"00-{trace_id}-b7ad6b7169203331-00",
            },
        )
        assert await worker_app.result("unsampled-parent", timeout_s=10) == "unsampled-child"
        await worker_app.result("unsampled-child", timeout_s=10)
    assert seen["child"].startswith(f"00-{trace_id}-")
    assert seen["child"].endswith("-00")
    assert not [s for s in spans.get_finished_spans() if s.context.trace_id == int(trace_id, 16)]
    assert made == []  # not even a non-recording span was started for them
