"""What the App offers for workflows: declarations, starting runs, finding them.

It is handed what it uses — a way to get the connection, the producer's send,
the settings and a task lookup — never the App itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .._settings import Settings
from .._task import EnqueueOptions, JobRequest, Task
from .._wire import now_iso, parse_iso, to_iso
from ..errors import ConfigError, WorkflowNotFound
from ..transport import Connection, WorkflowTransport, cancel_delayed
from ._builder import Step, Workflow
from ._engine import TIMEOUT_TASK, Engine, Enqueue
from ._errors import WorkflowDefinitionError
from ._faults import fault
from ._frozen import FrozenMap
from ._guard import WorkflowGuard
from ._model import StepDef, WorkflowDef
from ._runs import RunStatus, WorkflowRun, build_status
from ._state import RunRecord, RunState
from ._store import RunStore
from ._yaml import load_workflows_yaml

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
        if not _RUN_ID_RE.fullmatch(run_id):
            raise ConfigError(f"invalid run_id {run_id!r}: use 1-128 letters, digits, '_' or '-'")
        with self._start_span(definition.name, definition.version, run_id) as trace:
            now = now_iso()
            first_queue = definition.step(definition.roots()[0]).queue or ""
            timeout_job = (first_queue, f"{run_id}._timeout") if definition.timeout_s else None
            deadline = None
            if definition.timeout_s:
                from datetime import UTC, datetime, timedelta

                deadline = to_iso(datetime.now(UTC) + timedelta(seconds=definition.timeout_s))
            record = RunRecord(
                run_id=run_id,
                name=definition.name,
                version=definition.version,
                def_hash=definition.def_hash,
                state=RunState.RUNNING,
                input=input if input is not None else {},
                context=context if context is not None else {},
                started_at=now,
                updated_at=now,
                deadline=deadline,
                timeout_job=timeout_job,
                trace=trace,
            )
            if not await engine.store.create_meta(record):  # the run id is the idempotency key
                existing = await engine.store.meta(run_id)
                if existing is None or existing.record.name != definition.name:
                    raise ConfigError(f"run id {run_id!r} is already used by another workflow run")
                record = existing.record
                if record.state != RunState.RUNNING:
                    return WorkflowRun(engine, run_id, definition.name)
            else:
                fault("start.after_meta")
                await engine.events.emit(run_id, "run_started", message=f"{definition.name} v{definition.version}")
            if record.timeout_job is not None and record.deadline is not None:
                # At the run's own deadline (a retried start must not push it back); a native
                # message schedule on the server, so no process has to stay alive for it.
                queue, job_id = record.timeout_job
                options = EnqueueOptions(job_id=job_id, queue=queue, eta=parse_iso(record.deadline))
                await self._enqueue(JobRequest(TIMEOUT_TASK, (), {"run_id": run_id}, options))
            defn = await engine.store.definition(record.name, record.version)
            # Idempotent: a retried start repairs a start that crashed half-way.
            await engine.trigger_all(record, defn, defn.roots())
        return WorkflowRun(engine, run_id, definition.name)

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
        out = []
        for record in records[:limit]:
            defn = await engine.store.definition(record.name, record.version)
            out.append(build_status(record, defn, await engine.store.run_keys(record.run_id)))
        return out
