"""The hook through which the worker runs workflow steps, without knowing workflows.

A message that carries a workflow step is an ordinary job; the worker asks the
guard before running it (the start fence) and hands it the outcome before
settling (the run advances before the ack). The workflow package implements it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from .._context import JobContext
from .._outcome import Outcome
from ..transport import Delivery

Proceed = Literal["run", "skip"]


class Prepared(Protocol):
    """What the guard reads of a prepared job (``_executor.Prepared``)."""

    @property
    def delivery(self) -> Delivery: ...
    @property
    def ctx(self) -> JobContext: ...


class StepGuard(Protocol):
    def is_step(self, headers: Mapping[str, str]) -> bool:
        """True for a message that is a step of a workflow run."""

    def is_control(self, headers: Mapping[str, str]) -> bool:
        """True for a workflow control message (e.g. a run's timeout firing)."""

    async def control(self, delivery: Delivery) -> None:
        """Carry out a control message; raises to have it redelivered."""

    async def before(self, job: Prepared) -> Proceed | Outcome:
        """The start fence: run, skip (ack unrun), or an outcome to settle without running."""

    async def after(self, job: Prepared, outcome: Outcome) -> Outcome:
        """Advance the run with the step's outcome; returns the outcome to settle."""

    async def unrun(self, delivery: Delivery, outcome: Outcome) -> None:
        """A step message that could not be run at all (malformed, unknown task)."""

    def track(self, job: Prepared, execution: asyncio.Task[Outcome]) -> Callable[[], None]:
        """Let a run's cancellation cancel ``execution``; returns the function that untracks it."""

    def was_cancelled(self, job: Prepared) -> bool:
        """True when the job's run was cancelled while it ran."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
