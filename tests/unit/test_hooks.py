"""run_hooks: the right method per Outcome, async hooks, failing hooks (no server)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from jetjobs import Hooks, JobContext
from jetjobs._hooks import run_hooks
from jetjobs._outcome import Cancelled, DeadLetter, ErrorInfo, Outcome, Requeue, RetryLater, Succeeded

JOB = JobContext(id="job-1", task="t", queue="q", priority="normal", attempt=2, max_attempts=4, enqueued_at="")
ERROR = ErrorInfo("ValueError", "bad")


class SyncRecorder(Hooks):
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def on_success(self, job: JobContext, result_json: bytes) -> None:
        self.calls.append(("success", job.id, result_json))

    def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> None:
        self.calls.append(("retry", job.id, error, delay_s))

    def on_failure(self, job: JobContext, error: ErrorInfo, state: str) -> None:
        self.calls.append(("failure", job.id, error, state))

    def on_cancel(self, job: JobContext, reason: str) -> None:
        self.calls.append(("cancel", job.id, reason))


class AsyncRecorder(Hooks):
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    async def on_success(self, job: JobContext, result_json: bytes) -> None:
        self.calls.append(("async success", job.id, result_json))

    async def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> None:
        self.calls.append(("async retry", job.id, error, delay_s))

    async def on_failure(self, job: JobContext, error: ErrorInfo, state: str) -> None:
        self.calls.append(("async failure", job.id, error, state))

    async def on_cancel(self, job: JobContext, reason: str) -> None:
        self.calls.append(("async cancel", job.id, reason))


class Broken(Hooks):
    def on_success(self, job: JobContext, result_json: bytes) -> None:
        raise RuntimeError("hook exploded")


class BrokenAsync(Hooks):
    async def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> None:
        raise RuntimeError("async hook exploded")


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (Succeeded(b'{"ok":1}'), ("success", "job-1", b'{"ok":1}')),
        (RetryLater(4.0, ERROR), ("retry", "job-1", ERROR, 4.0)),
        (DeadLetter(ERROR, "gave up after 4 attempts"), ("failure", "job-1", ERROR, "failed")),
        (DeadLetter(ERROR, "malformed message", state="dead"), ("failure", "job-1", ERROR, "dead")),
        (Cancelled("stop"), ("cancel", "job-1", "stop")),
    ],
)
async def test_each_outcome_calls_its_own_method(outcome: Outcome, expected: tuple[Any, ...]) -> None:
    calls: list[tuple[Any, ...]] = []
    await run_hooks([SyncRecorder(calls)], JOB, outcome)
    assert calls == [expected]


@pytest.mark.parametrize("outcome", [Succeeded(b"1"), RetryLater(1.0, ERROR), DeadLetter(ERROR, "r"), Cancelled("c")])
async def test_async_hooks_are_awaited_in_order_with_sync_ones(outcome: Outcome) -> None:
    calls: list[tuple[Any, ...]] = []
    await run_hooks([AsyncRecorder(calls), SyncRecorder(calls)], JOB, outcome)
    assert len(calls) == 2
    assert calls[0][0].startswith("async ")
    assert calls[0][1:] == calls[1][1:]
    assert not calls[1][0].startswith("async ")


async def test_requeue_calls_no_hook() -> None:
    calls: list[tuple[Any, ...]] = []
    await run_hooks([SyncRecorder(calls), AsyncRecorder(calls)], JOB, Requeue("shutdown"))
    assert calls == []


async def test_base_hooks_do_nothing() -> None:
    for outcome in (Succeeded(b"1"), RetryLater(1.0, ERROR), DeadLetter(ERROR, "r"), Cancelled("c")):
        await run_hooks([Hooks()], JOB, outcome)


@pytest.mark.parametrize(
    ("broken", "outcome", "kind", "message"),
    [
        (Broken(), Succeeded(b"1"), "success", "hook exploded"),
        (BrokenAsync(), RetryLater(1.0, ERROR), "retry", "async hook exploded"),
    ],
)
async def test_failing_hook_is_logged_and_later_hooks_still_run(
    caplog: pytest.LogCaptureFixture, broken: Hooks, outcome: Outcome, kind: str, message: str
) -> None:
    calls: list[tuple[Any, ...]] = []
    with caplog.at_level(logging.ERROR, logger="jetjobs.hooks"):
        await run_hooks([SyncRecorder(calls), broken, AsyncRecorder(calls)], JOB, outcome)
    assert [call[0] for call in calls] == [kind, f"async {kind}"]
    [record] = [r for r in caplog.records if r.name == "jetjobs.hooks"]
    assert record.levelno == logging.ERROR
    assert "job-1" in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == message
