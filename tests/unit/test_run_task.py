"""run_task: one job through the real execution path (validation, middleware, pools, decide), no server."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
from typing import Any

import pytest

import jetjobs
from jetjobs import App, CallNext, Cancel, JobContext, Retry
from jetjobs._outcome import Cancelled, DeadLetter, Outcome, RetryLater, Succeeded
from jetjobs.errors import InvalidPayload
from jetjobs.testing import run_task
from tests.unit import cpu_app

SEEN_BY_MIDDLEWARE: list[tuple[str, str, int]] = []


class RecordJobs:
    """Middleware that records each job it wraps and scales the result of ``tagged``."""

    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        SEEN_BY_MIDDLEWARE.append((job.id, job.task, job.attempt))
        result = await call_next()
        return result * 10 if job.task == "tagged" else result


app = App("unit", nats_url="nats://127.0.0.1:1", middleware=[RecordJobs()])
QUICK = {"max_retries": 2, "retry_jitter": False, "retry_delay_s": 1.0}  # 3 attempts; 1 s, 2 s


@app.task(queue="unit", **QUICK)
async def whoami(greeting: str, *, loud: bool = False) -> dict[str, Any]:
    job = jetjobs.current_job()
    text = greeting.upper() if loud else greeting
    return {
        "text": text,
        "id": job.id,
        "attempt": job.attempt,
        "meta": dict(job.metadata),
        "queue": job.queue,
        "priority": job.priority,
    }


@app.task(queue="unit", **QUICK)
async def flaky() -> None:
    raise ConnectionError("network down")


@app.task(queue="unit", retry_for=(ConnectionError,), **QUICK)
async def picky() -> None:
    raise ValueError("not a network problem")


@app.task(queue="unit", **QUICK)
async def asks_for_retry() -> None:
    raise Retry(delay_s=3)


@app.task(queue="unit", **QUICK)
async def cancels() -> None:
    raise Cancel("stop")


@app.task(queue="unit", timeout_s=0.2, **QUICK)
async def hangs() -> None:
    await asyncio.Event().wait()  # never set: only the timeout ends this


@app.task(queue="unit", **QUICK)
def blocking(n: int) -> dict[str, Any]:
    job = jetjobs.current_job()
    return {"n": n * 2, "id": job.id, "in_main_thread": threading.current_thread() is threading.main_thread()}


@app.task(queue="unit", **QUICK)
async def tagged() -> int:
    return 7


@app.task(queue="unit", **QUICK)
async def varargs(first: int, *rest: int) -> list[int]:
    return [first, *rest]


def _json(outcome: Outcome) -> Any:
    assert isinstance(outcome, Succeeded), outcome
    return json.loads(outcome.result)


async def test_async_task_succeeds_and_sees_its_job() -> None:
    outcome = await run_task(
        whoami, "hi", loud=True, job_id="order-42", attempt=2, metadata={"tenant": "acme"}, priority="high"
    )
    assert _json(outcome) == {
        "text": "HI",
        "id": "order-42",
        "attempt": 2,
        "meta": {"tenant": "acme"},
        "queue": "unit",
        "priority": "high",
    }


@pytest.mark.parametrize(
    ("task", "attempt", "expected"),
    [
        (flaky, 1, RetryLater),
        (flaky, 2, RetryLater),
        (flaky, 3, DeadLetter),
        (picky, 1, DeadLetter),
        (asks_for_retry, 1, RetryLater),
        (asks_for_retry, 3, DeadLetter),
        (cancels, 1, Cancelled),
        (cancels, 3, Cancelled),
        (hangs, 1, RetryLater),
        (hangs, 3, DeadLetter),
    ],
)
async def test_failure_outcomes(task: Any, attempt: int, expected: type) -> None:
    assert type(await run_task(task, attempt=attempt)) is expected


@pytest.mark.parametrize(
    ("task", "attempt", "delay_s", "error_type", "message"),
    [
        (flaky, 1, 1.0, "ConnectionError", "network down"),
        (flaky, 2, 2.0, "ConnectionError", "network down"),
        (asks_for_retry, 1, 3.0, "jetjobs.errors.Retry", "retry requested"),
        (asks_for_retry, 2, 3.0, "jetjobs.errors.Retry", "retry requested"),
        (hangs, 1, 1.0, "jetjobs.errors.JobTimeout", "task hangs ran longer than 0.2s"),
    ],
)
async def test_retry_later_details(task: Any, attempt: int, delay_s: float, error_type: str, message: str) -> None:
    outcome = await run_task(task, attempt=attempt)
    assert isinstance(outcome, RetryLater)
    assert outcome.delay_s == delay_s
    assert (outcome.error.type, outcome.error.message) == (error_type, message)


@pytest.mark.parametrize(
    ("task", "attempt", "reason", "error_type"),
    [
        (flaky, 3, "gave up after 3 attempts", "ConnectionError"),
        (picky, 1, "ValueError is not in retry_for", "ValueError"),
    ],
)
async def test_dead_letter_details(task: Any, attempt: int, reason: str, error_type: str) -> None:
    outcome = await run_task(task, attempt=attempt)
    assert isinstance(outcome, DeadLetter)
    assert (outcome.reason, outcome.state, outcome.error.type) == (reason, "failed", error_type)


async def test_cancel_keeps_its_reason() -> None:
    assert await run_task(cancels) == Cancelled(reason="stop")


async def test_per_job_timeout_overrides_the_task_timeout() -> None:
    outcome = await run_task(hangs, timeout_s=0.05)
    assert isinstance(outcome, RetryLater)
    assert outcome.error.message == "task hangs ran longer than 0.05s"


async def test_plain_function_runs_in_a_thread_with_current_job() -> None:
    outcome = await run_task(blocking, 21, job_id="thread-job")
    assert _json(outcome) == {"n": 42, "id": "thread-job", "in_main_thread": False}


@pytest.mark.parametrize(
    ("task", "args", "kwargs", "message"),
    [
        (whoami, (), {}, "missing a required argument: 'greeting'"),
        (whoami, ("hi",), {"loud": "very"}, "argument 'loud'"),
        (whoami, ("hi", "extra"), {}, "too many positional arguments"),
        (blocking, ("many",), {}, "argument 'n'"),
    ],
)
async def test_invalid_arguments_raise_at_encode_time(
    task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        await run_task(task, *args, **kwargs)


async def test_app_middleware_sees_the_job_and_may_change_the_result() -> None:
    SEEN_BY_MIDDLEWARE.clear()
    outcome = await run_task(tagged, job_id="mw-job", attempt=2)
    assert _json(outcome) == 70
    assert SEEN_BY_MIDDLEWARE == [("mw-job", "tagged", 2)]


async def test_current_job_outside_a_task_raises() -> None:
    with pytest.raises(jetjobs.JetjobsError, match="outside a running jetjobs task"):
        jetjobs.current_job()


async def test_task_with_star_args_runs() -> None:
    assert _json(await run_task(varargs, 1, 2, 3)) == [1, 2, 3]


async def test_cpu_bound_task_returns_its_value_from_a_child_process() -> None:
    outcome = await run_task(cpu_app.fib, 50, job_id="cpu-job", attempt=2)
    assert _json(outcome) == {"value": 12_586_269_025, "job_id": "cpu-job", "attempt": 2}


async def test_cpu_bound_task_that_never_ends_is_killed_at_its_timeout() -> None:
    outcome = await run_task(cpu_app.spin_forever)
    assert isinstance(outcome, RetryLater)
    assert outcome.delay_s == 5.0
    assert outcome.error.type == "jetjobs.errors.JobTimeout"
    assert "process was killed" in outcome.error.message
    assert multiprocessing.active_children() == []  # the spinning child is gone, not leaked


@pytest.mark.parametrize(
    ("kind", "expected", "error_type"),
    [("connection", RetryLater, "ConnectionResetError"), ("value", DeadLetter, "ValueError")],
)
async def test_cpu_bound_errors_apply_retry_for_across_the_process_boundary(
    kind: str, expected: type, error_type: str
) -> None:
    outcome = await run_task(cpu_app.raise_in_child, kind)
    assert type(outcome) is expected
    assert outcome.error.type == error_type  # type: ignore[union-attr]
    assert outcome.error.message == f"{kind} from child"  # type: ignore[union-attr]


async def test_run_job_takes_explicit_arguments_and_run_task_refuses_clashing_names() -> None:
    from jetjobs import App, Succeeded
    from jetjobs.errors import ConfigError
    from jetjobs.testing import run_job

    app = App("clash", nats_url="nats://127.0.0.1:1")

    @app.task(queue="q")
    async def process(job_id: str, attempt: int = 0) -> str:
        return f"{job_id}/{attempt}"

    with pytest.raises(ConfigError, match="use run_job"):
        await run_task(process, "upstream-7")
    outcome = await run_job(process, kwargs={"job_id": "upstream-7", "attempt": 4}, attempt=2)
    assert outcome == Succeeded(b'"upstream-7/4"')
