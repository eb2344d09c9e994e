"""A handle on a workflow run: its result, status, log and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ResultTimeout, WorkflowFailed, WorkflowNotFound
from ._engine import Engine
from ._log import RunEvent
from ._model import WorkflowDef
from ._state import RunRecord, RunState, StepError, StepRecord

_FINAL_EVENTS = frozenset(f"run_{state.value}" for state in RunState if state.terminal)


@dataclass(frozen=True, slots=True)
class StepStatus:
    """One step of a run as ``WorkflowRun.status()`` shows it."""

    name: str
    task: str
    state: str  # pending, queued, running, retrying, succeeded, failed, cancelled
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    output: Any = None
    output_ref: dict[str, Any] | None = None
    error: StepError | None = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A run's state and every step's state, attempts, timings and output or error."""

    run_id: str
    name: str
    version: str
    state: str
    started_at: str
    finished_at: str | None
    cause: str | None
    failed_step: str | None
    error: StepError | None
    steps: dict[str, StepStatus] = field(default_factory=dict)
    compensation: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        def err(e: StepError | None) -> dict[str, str] | None:
            return {"type": e.type, "message": e.message, "traceback": e.traceback} if e else None

        return {
            "run_id": self.run_id,
            "name": self.name,
            "version": self.version,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "cause": self.cause,
            "failed_step": self.failed_step,
            "error": err(self.error),
            "compensation": list(self.compensation),
            "steps": {
                n: {
                    "task": s.task,
                    "state": s.state,
                    "attempts": s.attempts,
                    "started_at": s.started_at,
                    "finished_at": s.finished_at,
                    "output": s.output,
                    "output_ref": s.output_ref,
                    "error": err(s.error),
                    "depends_on": list(s.depends_on),
                }
                for n, s in self.steps.items()
            },
        }


class WorkflowRun:
    """A workflow run, started here or found by id.

    Example::

        run = await app.execute_workflow("order-processing", input={"order_id": "o-1"})
        print(await run.result(timeout_s=60))
        print((await run.status()).steps["process-payment"].state)
    """

    def __init__(self, engine: Engine, run_id: str, name: str = "") -> None:
        self._engine = engine
        self.id = run_id
        self.name = name

    def __repr__(self) -> str:
        return f"<WorkflowRun {self.id} {self.name}>"

    async def record(self) -> RunRecord:
        at = await self._engine.store.meta(self.id)
        if at is None:
            raise WorkflowNotFound(f"no workflow run {self.id!r} (never started, or expired after its retention)")
        return at.record

    async def wait(self, timeout_s: float | None = None) -> RunRecord:
        """Wait (KV watch, no polling) until the run ends; return its final record."""
        try:
            async with (
                asyncio.timeout(timeout_s),
                contextlib.aclosing(self._engine.store.t.runs.watch(f"{self.id}.meta")) as entries,
            ):
                async for entry in entries:
                    if entry.value is None:
                        continue
                    record = RunRecord.decode(entry.value)
                    if record.state.terminal:
                        return record
        except TimeoutError:
            state = (await self.record()).state
            raise ResultTimeout(f"workflow run {self.id} is still {state} after {timeout_s:g}s") from None
        raise WorkflowNotFound(f"workflow run {self.id!r} vanished while waiting")

    async def result(self, timeout_s: float | None = None) -> Any:
        """The run's result: the output of its last step (a dict by step name when it ends in
        several). Raises WorkflowFailed naming the failing step, its error type, message and
        traceback; ResultTimeout after ``timeout_s``."""
        record = await self.wait(timeout_s)
        if record.state != RunState.SUCCEEDED:
            error = record.error
            raise WorkflowFailed(
                self.id,
                record.state.value,
                step=record.failed_step,
                error_type=error.type if error else "",
                message=error.message if error else (record.cause or ""),
                traceback=error.traceback if error else "",
            )
        defn = await self._engine.store.definition(record.name, record.version)
        return await self._engine.run_result(record, defn)

    async def definition(self) -> WorkflowDef:
        """The definition this run executes (its name and version), read from the server
        once per process: definitions are immutable.

        Example::

            run = await app.workflow_run(run_id)
            print(render_dag(await run.definition(), {}))
        """
        record = await self.record()
        return await self._engine.store.definition(record.name, record.version)

    async def status(self) -> RunStatus:
        """The run and every step: state, attempts, timings, output or error."""
        record = await self.record()
        defn = await self._engine.store.definition(record.name, record.version)
        keys = await self._engine.store.run_keys(self.id, step_names(record, defn))
        return build_status(record, defn, keys)

    async def cancel(self) -> bool:
        """Cancel the run: queued steps never start, running ones are cancelled. False when it
        had already ended (or is compensating, which runs to its end)."""
        await self.record()
        return await self._engine.finish(self.id, "cancel") is not None

    async def logs(self, *, follow: bool = False) -> AsyncGenerator[RunEvent, None]:
        """The run's event log from its start; with ``follow``, then new events as they happen,
        until the event that ends the run."""
        async with contextlib.aclosing(self._engine.events.read(self.id, follow=follow)) as events:
            async for event in events:
                yield event
                if follow and event.kind in _FINAL_EVENTS:
                    return


def step_names(record: RunRecord, defn: WorkflowDef) -> list[str]:
    """The steps a status shows: every step, then the compensations the run started."""
    return [*defn.topo_order(), *(f"compensate-{s}" for s in record.compensation)]


def build_status(record: RunRecord, defn: WorkflowDef, keys: dict[str, bytes]) -> RunStatus:
    prefix = f"{record.run_id}."
    names = step_names(record, defn)
    steps: dict[str, StepStatus] = {}
    for name in names:
        spec = defn.compensate[name.removeprefix("compensate-")] if name.startswith("compensate-") else defn.step(name)
        raw = keys.get(f"{prefix}st.{name}")
        depends = () if name.startswith("compensate-") else tuple(spec.depends_on)
        if raw is None:
            state = "queued" if f"{prefix}trig.{name}" in keys else "pending"
            steps[name] = StepStatus(name, spec.task, state, depends_on=depends)
            continue
        st = StepRecord.decode(raw)
        steps[name] = StepStatus(
            name,
            st.task or spec.task,
            st.state.value,
            st.attempt,
            st.started_at,
            st.finished_at,
            st.output,
            st.output_ref,
            st.error,
            depends,
        )
    return RunStatus(
        record.run_id,
        record.name,
        record.version,
        record.state.value,
        record.started_at,
        record.finished_at,
        record.cause,
        record.failed_step,
        record.error,
        steps,
        record.compensation,
    )
