"""What the App offers for workflows: declarations, starting runs, finding them.

It is handed what it uses — a way to get the connection, the producer's send,
the settings and a task lookup — never the App itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .._canvas import Canvas
from .._settings import Settings
from .._task import Task
from ..errors import WorkflowNotFound
from ..transport import Connection, WorkflowTransport, cancel_delayed
from ._builder import Step, Workflow
from ._canvas import compile_canvas
from ._engine import Engine, Enqueue
from ._errors import WorkflowDefinitionError
from ._frozen import FrozenMap
from ._guard import WorkflowGuard
from ._model import StepDef, WorkflowDef
from ._runs import RunStatus, WorkflowRun, build_status, step_names
from ._state import RunRecord
from ._store import RunStore
from ._yaml import load_workflows_yaml

_LIST_READS = 8
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

TaskLookup = Callable[[str], "Task[..., Any] | None"]
StartSpan = Callable[[str, str, str], AbstractContextManager[dict[str, str]]]


@contextlib.contextmanager
def _no_span(name: str, version: str, run_id: str) -> Iterator[dict[str, str]]:
    yield {}


class Workflows:
    """The workflows of one App (``app.workflow(...)``, ``app.execute_workflow(...)``)."""

    def __init__(
        self,
        *,
        connection: Callable[[], Awaitable[Connection]],
        enqueue: Enqueue,
        settings: Settings,
        task: TaskLookup,
        start_span: StartSpan = _no_span,
        on_run_end: Callable[[RunRecord], None] | None = None,
    ) -> None:
        self._start_span = start_span
        self._on_run_end = on_run_end
        self._connection = connection
        self._enqueue = enqueue
        self._settings = settings
        self._task = task
        self._builders: list[Workflow] = []
        self._loaded: list[WorkflowDef] = []
        self._engine: Engine | None = None
        self._engine_conn: Connection | None = None

    # -- declarations -------------------------------------------------------------

    def declare(
        self,
        name: str,
        *,
        version: str = "1",
        timeout_s: float | None = None,
        compensate: Mapping[str, Step] | None = None,
        description: str = "",
        retention_s: float | None = None,
    ) -> Workflow:
        builder = Workflow(
            name,
            version=version,
            timeout_s=timeout_s,
            compensate=compensate,
            description=description,
            retention_s=retention_s,
        )
        self._builders.append(builder)
        return builder

    def load(self, source: str | Path) -> list[WorkflowDef]:
        definitions = [self.resolve(d) for d in load_workflows_yaml(source)]
        self._loaded.extend(definitions)
        return definitions

    def definitions(self) -> list[WorkflowDef]:
        """Every declared definition, built and validated (queues filled in from the tasks)."""
        found: dict[tuple[str, str], WorkflowDef] = {}
        for definition in [*(self.resolve(b.build()) for b in self._builders), *self._loaded]:
            key = (definition.name, definition.version)
            if key in found and found[key] != definition:
                raise WorkflowDefinitionError(
                    "declared twice with different steps", workflow=definition.name, version=definition.version
                )
            found[key] = definition
        return list(found.values())

    def resolve(self, definition: WorkflowDef) -> WorkflowDef:
        """Fill in each step's queue from its task; a task this service does not know needs ``queue``."""

        if all(s.queue for s in definition.steps) and all(s.queue for s in definition.compensate.values()):
            return definition  # nothing to fill in (and no second validation of a large definition)

        def fill(step: StepDef, label: str) -> StepDef:
            if step.queue:
                return step
            task = self._task(step.task)
            if task is None:
                raise WorkflowDefinitionError(
                    f"task {step.task!r} is not registered in this app; give the step a queue "
                    "(queue=... in Python, queue: in YAML) so it can be sent to the service that runs it",
                    workflow=definition.name,
                    version=definition.version,
                    step=label,
                )
            return dataclasses.replace(step, queue=task.spec.queue)

        steps = tuple(fill(s, s.name) for s in definition.steps)
        compensate = {k: fill(v, f"compensate-{k}") for k, v in definition.compensate.items()}
        return dataclasses.replace(definition, steps=steps, compensate=FrozenMap(compensate))

    # -- runs ---------------------------------------------------------------------

    async def engine(self) -> Engine:
        conn = await self._connection()
        if self._engine is None or self._engine_conn is not conn:
            transport = WorkflowTransport(conn, self._settings)
            await transport.ensure()

            async def cancel(queue: str, job_id: str) -> bool:
                return await cancel_delayed(conn, queue, job_id)

            self._engine = Engine(
                RunStore(transport),
                enqueue=self._enqueue,
                cancel_delayed=cancel,
                inline_output_bytes=self._settings.workflow_inline_output_bytes,
                max_output_bytes=self._settings.workflow_max_output_bytes,
                on_run_end=self._on_run_end,
            )
            self._engine_conn = conn
        return self._engine

    async def guard(self) -> WorkflowGuard:
        engine = await self.engine()
        for definition in self.definitions():
            await engine.store.publish_definition(definition)
        return WorkflowGuard(engine, engine.store.t)

    async def execute(
        self,
        name: str,
        input: Any = None,
        *,
        context: Any = None,
        version: str | None = None,
        run_id: str | None = None,
    ) -> WorkflowRun:
        engine = await self.engine()
        definition = await self._definition(engine, name, version)
        run_id = run_id or os.urandom(12).hex()
        with self._start_span(definition.name, definition.version, run_id) as trace:
            await engine.start(definition, input, context=context, run_id=run_id, trace=trace)
        return WorkflowRun(engine, run_id, definition.name)

    async def execute_definition(
        self, definition: WorkflowDef, *, input: Any = None, run_id: str | None = None
    ) -> WorkflowRun:
        """Start a run of a definition built in code (a canvas, graph, batch): queues filled in."""
        engine = await self.engine()
        definition = self.resolve(definition)
        run_id = run_id or os.urandom(12).hex()
        with self._start_span(definition.name, definition.version, run_id) as trace:
            await engine.start(definition, input, context=None, run_id=run_id, trace=trace)
        return WorkflowRun(engine, run_id, definition.name)

    async def execute_canvas(
        self, canvas: Canvas, *, run_id: str | None = None, input: Any = None, name: str | None = None
    ) -> WorkflowRun:
        compiled = compile_canvas(canvas, name=name)
        return await self.execute_definition(
            compiled.definition, input={**compiled.input, **(input or {})}, run_id=run_id
        )

    async def _definition(self, engine: Engine, name: str, version: str | None) -> WorkflowDef:
        local = [d for d in self.definitions() if d.name == name]
        if version is not None:
            local = [d for d in local if d.version == version]
        if local:
            definition = local[-1]
            await engine.store.publish_definition(definition)
            return definition
        chosen = version or await engine.store.latest_version(name)
        if chosen is None:
            raise WorkflowNotFound(f"no workflow {name!r} is declared here or registered on the server")
        return await engine.store.definition(name, chosen)

    async def run(self, run_id: str) -> WorkflowRun:
        engine = await self.engine()
        return WorkflowRun(engine, run_id)

    async def runs(self, *, name: str | None = None, state: str | None = None, limit: int = 100) -> list[RunStatus]:
        """Runs (newest first), by workflow name and run state; each with its steps."""
        engine = await self.engine()
        entries = await engine.store.t.runs.matching("*.meta")
        records = [RunRecord.decode(e.value) for e in entries if e.value is not None]
        records = [r for r in records if (name is None or r.name == name) and (state is None or r.state == state)]
        records.sort(key=lambda r: r.started_at, reverse=True)
        gate = asyncio.Semaphore(_LIST_READS)  # each run reads its step keys: a few runs at a time

        async def status(record: RunRecord) -> RunStatus:
            async with gate:
                defn = await engine.store.definition(record.name, record.version)
                keys = await engine.store.run_keys(record.run_id, step_names(record, defn))
                return build_status(record, defn, keys)

        return list(await asyncio.gather(*(status(r) for r in records[:limit])))
