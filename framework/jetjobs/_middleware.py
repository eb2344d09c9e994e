"""Middleware wraps the execution of a job. The chain is built once per task."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ._context import JobContext

CallNext = Callable[[], Awaitable[Any]]


@runtime_checkable
class Middleware(Protocol):
    """Wraps every attempt of a job: code before, the call, code after.

    Return what ``call_next()`` returned (or another value); raise to fail the
    attempt. Prefer hooks when you only need to observe.

    Example::

        class Timing:
            async def __call__(self, job: JobContext, call_next: CallNext) -> Any:
                started = time.perf_counter()
                try:
                    return await call_next()
                finally:
                    log.info("%s took %.3fs", job.task, time.perf_counter() - started)

        app = App("billing", middleware=[Timing()])
    """

    async def __call__(self, job: JobContext, call_next: CallNext) -> Any: ...


Invoke = Callable[[JobContext], Awaitable[Any]]


def build_chain(middleware: Sequence[Middleware], innermost: Invoke) -> Invoke:
    """Compose middleware around ``innermost``; the first in the list is the outermost."""
    chain = innermost
    for item in reversed(middleware):
        chain = _wrap(item, chain)
    return chain


def _wrap(item: Middleware, inner: Invoke) -> Invoke:
    async def call(job: JobContext) -> Any:
        return await item(job, lambda: inner(job))

    return call
