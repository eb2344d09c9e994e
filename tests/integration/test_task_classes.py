"""Task classes: class attributes as defaults, validate_input, report_result and hook methods."""

from __future__ import annotations

from typing import Any

import pytest

import jetjobs
from jetjobs import App, ErrorInfo, JobContext, JobState
from jetjobs.errors import ConfigError, InvalidPayload, JobFailed
from tests.helpers import AppFactory, eventually, running_worker

events: list[tuple[str, Any]] = []


class ProcessingTask(jetjobs.Task):  # type: ignore[type-arg]
    queue = "processing"
    max_retries = 0
    timeout_s = 30.0
    store_result = True

    def validate_input(self, doc_id: int, **kwargs: Any) -> None:
        if doc_id <= 0:
            raise ValueError("doc_id must be positive")

    def report_result(self, result: Any) -> None:
        events.append(("report", result))

    def on_success(self, job: JobContext, result_json: bytes) -> None:
        events.append(("success", job.id))

    def on_failure(self, job: JobContext, error: ErrorInfo, state: str) -> None:
        events.append(("failure", state))


class UrgentProcessing(ProcessingTask):
    priority = "high"
    queue = "urgent"


def register(app: App) -> None:
    @app.task(base=ProcessingTask)
    async def process(doc_id: int, fail: bool = False) -> dict[str, int]:
        if fail:
            raise RuntimeError("broken document")
        return {"doc": doc_id}

    @app.task(base=ProcessingTask, queue="other", timeout_s=5)  # the decorator wins
    async def overridden(doc_id: int) -> int:
        return doc_id

    @app.task(base=UrgentProcessing)
    def urgent(doc_id: int) -> int:
        return doc_id * 2


def test_class_attributes_are_defaults_and_the_decorator_overrides_them() -> None:
    app = App("t")
    register(app)
    process, overridden, urgent = app.tasks["process"], app.tasks["overridden"], app.tasks["urgent"]
    assert isinstance(process, ProcessingTask)
    assert (process.spec.queue, process.spec.retry.max_retries, process.spec.timeout_s) == ("processing", 0, 30.0)
    assert (overridden.spec.queue, overridden.spec.timeout_s) == ("other", 5)
    assert (urgent.spec.queue, urgent.spec.priority, urgent.spec.retry.max_retries) == ("urgent", "high", 0)
    with pytest.raises(InvalidPayload, match=r"task 'process': validate_input refused the arguments: doc_id must"):
        process.call(-1)
    with pytest.raises(ConfigError, match=r"base must be a subclass of jetjobs\.Task"):
        app.task(base=dict)(lambda: None)  # type: ignore[arg-type]


async def test_validate_input_report_result_and_hook_methods_run_in_the_worker(app_factory: AppFactory) -> None:
    events.clear()
    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        ok = await producer.tasks["process"].enqueue(7)
        assert await ok.result(timeout_s=10) == {"doc": 7}
        await eventually(lambda: ("success", ok.id) in events)
        assert ("report", {"doc": 7}) in events
        failing = await producer.tasks["process"].enqueue(8, fail=True)
        with pytest.raises(JobFailed, match="broken document"):
            await failing.result(timeout_s=10)
        await eventually(lambda: ("failure", "failed") in events)
        # By name from a service without the class: the worker's validate_input still refuses it.
        refused = await producer.enqueue("process", args=[-3], queue="processing")
        with pytest.raises(JobFailed, match="validate_input refused the arguments"):
            await refused.result(timeout_s=10)
        assert (await refused.status()).state is JobState.DEAD
        assert await (await producer.tasks["urgent"].enqueue(4)).result(timeout_s=10) == 8
