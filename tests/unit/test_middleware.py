"""build_chain: middleware order, result changes and errors (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from jetjobs import CallNext, JobContext, Middleware
from jetjobs._middleware import build_chain

JOB = JobContext(id="job-1", task="t", queue="q", priority="normal", attempt=1, max_attempts=4, enqueued_at="")


class Recorder:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        self.log.append(f"enter {self.name}")
        try:
            return await call_next()
        finally:
            self.log.append(f"exit {self.name}")


class Doubler:
    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        return 2 * await call_next()


class Shortcut:
    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        return "short-circuited"


class Raiser:
    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        raise PermissionError(f"refused {job.id}")


class Translator:
    async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
        try:
            return await call_next()
        except KeyError as exc:
            raise LookupError(f"translated {exc}") from exc


def _innermost(log: list[str], value: Any = 21, error: BaseException | None = None) -> Any:
    async def run(job: JobContext) -> Any:
        log.append(f"task {job.id}")
        if error is not None:
            raise error
        return value

    return run


@pytest.mark.parametrize("count", [0, 1, 2, 3])
async def test_first_middleware_is_outermost(count: int) -> None:
    log: list[str] = []
    chain = build_chain([Recorder(str(i), log) for i in range(count)], _innermost(log))
    assert await chain(JOB) == 21
    names = [str(i) for i in range(count)]
    assert log == [f"enter {n}" for n in names] + ["task job-1"] + [f"exit {n}" for n in reversed(names)]


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        ([Doubler()], 42),
        ([Doubler(), Doubler()], 84),
        ([Shortcut()], "short-circuited"),
        ([Doubler(), Shortcut()], "short-circuitedshort-circuited"),
    ],
)
async def test_middleware_can_change_the_result(middleware: list[Middleware], expected: Any) -> None:
    log: list[str] = []
    assert await build_chain(middleware, _innermost(log))(JOB) == expected


async def test_short_circuit_skips_the_task_and_inner_middleware() -> None:
    log: list[str] = []
    chain = build_chain([Recorder("outer", log), Shortcut(), Recorder("inner", log)], _innermost(log))
    assert await chain(JOB) == "short-circuited"
    assert log == ["enter outer", "exit outer"]


async def test_raising_middleware_fails_the_call_and_outer_middleware_sees_it() -> None:
    log: list[str] = []
    chain = build_chain([Recorder("outer", log), Raiser(), Recorder("inner", log)], _innermost(log))
    with pytest.raises(PermissionError, match="refused job-1"):
        await chain(JOB)
    assert log == ["enter outer", "exit outer"]


async def test_task_error_passes_through_middleware_which_may_translate_it() -> None:
    log: list[str] = []
    chain = build_chain([Recorder("outer", log), Translator()], _innermost(log, error=KeyError("k")))
    with pytest.raises(LookupError, match="translated 'k'"):
        await chain(JOB)
    assert log == ["enter outer", "task job-1", "exit outer"]


async def test_chain_is_reusable_across_jobs() -> None:
    log: list[str] = []
    chain = build_chain([Recorder("m", log)], _innermost(log))
    other = JobContext(id="job-2", task="t", queue="q", priority="low", attempt=2, max_attempts=4, enqueued_at="")
    await chain(JOB)
    await chain(other)
    assert log == ["enter m", "task job-1", "exit m", "enter m", "task job-2", "exit m"]


@pytest.mark.parametrize(("item", "is_middleware"), [(Recorder("x", []), True), (Doubler(), True), (object(), False)])
def test_middleware_protocol_is_runtime_checkable(item: object, is_middleware: bool) -> None:
    assert isinstance(item, Middleware) is is_middleware
