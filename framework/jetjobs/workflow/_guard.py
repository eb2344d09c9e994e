"""The worker's side of the engine: the start fence, advancing on the outcome, cancellation."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from .._outcome import Cancelled, DeadLetter, ErrorInfo, Outcome, RetryLater, Succeeded
from .._wire import H_REPLAY_OF, H_TASK
from ..errors import ConfigError
from ..transport import Delivery, WorkflowTransport
from ._engine import H_RUN, H_STEP, START_TASK, TIMEOUT_TASK, Engine
from ._state import StepError
from ._subrun import SUBRUN_KEY, SUBRUN_MARKER

if TYPE_CHECKING:
    from ..worker._steps import Prepared, Proceed

log = logging.getLogger("jetjobs.workflow")

_REMEMBER_CANCELLED = 10_000


class Unsubscribe(Protocol):
    async def unsubscribe(self, limit: int = 0) -> None: ...


class WorkflowGuard:
    """Implements the worker's StepGuard with an Engine."""

    def __init__(self, engine: Engine, transport: WorkflowTransport) -> None:
        self._engine = engine
        self._t = transport
        self._running: dict[str, set[asyncio.Task[Outcome]]] = {}
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._sub: Unsubscribe | None = None

    async def start(self) -> None:
        await self._t.ensure()
        self._sub = await self._t.on_cancel(self._on_cancel)

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception as exc:  # closing connection
                log.debug("unsubscribing from workflow cancellations failed: %s", exc)
            self._sub = None

    def is_step(self, headers: Mapping[str, str]) -> bool:
        return bool(headers) and H_RUN in headers and H_STEP in headers

    def is_control(self, headers: Mapping[str, str]) -> bool:
        return bool(headers) and headers.get(H_TASK) in (TIMEOUT_TASK, START_TASK)

    async def control(self, delivery: Delivery) -> None:
        try:
            kwargs = json.loads(delivery.data)["kwargs"]
            run_id = str(kwargs["run_id"])
        except (ValueError, KeyError, TypeError):
            log.error("malformed workflow control message %s: dropped", delivery.stream_seq)
            return
        if delivery.headers.get(H_TASK) == START_TASK:
            await self._start(kwargs, run_id, delivery.headers)
            return
        record = await self._engine.finish(run_id, "timeout")
        if record is not None:
            log.info("workflow run %s timed out: %s", run_id, record.state)

    async def _start(self, kwargs: Mapping[str, object], run_id: str, headers: Mapping[str, str]) -> None:
        """A run started by a plain job message (another language): see docs/wire-protocol.md."""
        name, version = str(kwargs.get("workflow", "")), kwargs.get("version")
        store = self._engine.store
        chosen = str(version) if version else await store.latest_version(name)
        if chosen is None:
            log.error("workflow start %s: no workflow %r is registered on the server; dropped", run_id, name)
            return
        definition = await store.definition(name, chosen)
        trace = {k: v for k, v in headers.items() if k in ("traceparent", "tracestate")}
        try:
            await self._engine.start(
                definition, kwargs.get("input"), context=kwargs.get("context"), run_id=run_id, trace=trace
            )
        except ConfigError as exc:
            log.error("workflow start %s refused: %s", run_id, exc)

    async def before(self, job: Prepared) -> Proceed | Outcome:
        delivery = job.delivery
        run_id, step = delivery.headers[H_RUN], delivery.headers[H_STEP]
        answer = await self._engine.before(
            run_id,
            step,
            seq=delivery.stream_seq,
            attempt=delivery.num_delivered,
            queue=job.ctx.queue,
            replay=H_REPLAY_OF in delivery.headers,
        )
        if isinstance(answer, StepError):  # failed before its worker stored the dead letter
            return DeadLetter(ErrorInfo(answer.type, answer.message, answer.traceback), reason="step failed")
        return "run" if answer else "skip"

    async def after(self, job: Prepared, outcome: Outcome) -> Outcome:
        headers = job.delivery.headers
        run_id, step, attempt = headers[H_RUN], headers[H_STEP], job.delivery.num_delivered
        if isinstance(outcome, Succeeded):
            if outcome.result.startswith(SUBRUN_MARKER):
                await self._engine.start_subrun(run_id, step, json.loads(outcome.result)[SUBRUN_KEY])
                return outcome
            too_large = await self._engine.succeeded(run_id, step, outcome.result)
            if too_large is None:
                return outcome
            info = ErrorInfo.from_exception(too_large)
            await self._engine.failed(run_id, step, attempt, _error(info))
            return DeadLetter(info, reason="output too large")
        if isinstance(outcome, RetryLater):
            await self._engine.retrying(run_id, step, attempt, _error(outcome.error), outcome.delay_s)
        elif isinstance(outcome, DeadLetter):
            await self._engine.failed(run_id, step, attempt, _error(outcome.error))
        elif isinstance(outcome, Cancelled):
            if self.was_cancelled(job):
                await self._engine.cancelled(run_id, step)
            else:  # the task raised Cancel: the step ends, and with it the run
                await self._engine.failed(run_id, step, attempt, StepError("jetjobs.errors.Cancel", outcome.reason))
        return outcome

    async def unrun(self, delivery: Delivery, outcome: Outcome) -> None:
        if isinstance(outcome, DeadLetter):
            run_id, step = delivery.headers[H_RUN], delivery.headers[H_STEP]
            await self._engine.failed(run_id, step, delivery.num_delivered, _error(outcome.error))

    def track(self, job: Prepared, execution: asyncio.Task[Outcome]) -> Callable[[], None]:
        run_id = job.delivery.headers[H_RUN]
        if job.delivery.headers[H_STEP].startswith("compensate-"):
            return _nothing  # compensation runs to its end, whatever stopped the run
        tasks = self._running.setdefault(run_id, set())
        tasks.add(execution)
        if run_id in self._cancelled:
            execution.cancel()

        def untrack() -> None:
            tasks.discard(execution)
            if not tasks:
                self._running.pop(run_id, None)

        return untrack

    def was_cancelled(self, job: Prepared) -> bool:
        return job.delivery.headers.get(H_RUN, "") in self._cancelled

    def _on_cancel(self, run_id: str) -> None:
        self._cancelled[run_id] = None
        while len(self._cancelled) > _REMEMBER_CANCELLED:
            self._cancelled.popitem(last=False)
        for execution in self._running.get(run_id, ()):
            execution.cancel()


def _nothing() -> None:
    return None


def _error(info: ErrorInfo) -> StepError:
    return StepError(info.type, info.message, info.traceback)
