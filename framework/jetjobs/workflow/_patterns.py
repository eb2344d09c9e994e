"""Composition patterns as thin layers over the canvas: TaskGroup, TaskGraph, Pipeline, BatchTask.

Each builds a workflow definition and starts a run of it: members run on workers,
never in the caller, with the engine's guarantees, status, logs and trace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .._canvas import Canvas, Signature, chain, group, signature
from ..errors import JetjobsError, WorkflowFailed
from ._errors import WorkflowDefinitionError
from ._model import StepDef, WorkflowDef

if TYPE_CHECKING:
    from .._task import Task
    from ._runs import WorkflowRun


class App(Protocol):
    """What the patterns use of an App: starting canvases and definitions."""

    async def execute_canvas(
        self, canvas: Canvas, *, run_id: str | None = None, input: Any = None, name: str | None = None
    ) -> WorkflowRun: ...

    async def execute_definition(
        self, definition: WorkflowDef, *, input: Any = None, run_id: str | None = None
    ) -> WorkflowRun: ...


class MemberFailed(JetjobsError):
    """A member of a TaskGroup / TaskGraph / BatchTask failed; names it and carries its error."""

    def __init__(self, member: str, cause: WorkflowFailed) -> None:
        self.member = member
        self.cause = cause
        super().__init__(f"member {member!r} failed: {cause.error_type}: {cause.message}")


def _sig(item: Canvas | Task[..., Any]) -> Canvas:
    return item if isinstance(item, Canvas) else signature(item)


class TaskGroup:
    """Run tasks side by side on workers and gather their results in order.

    Example::

        async with TaskGroup(app) as g:
            g.create_task(resize.s("small"))
            g.create_task(resize.s("large"))
        print(g.results)                      # or: results = await g.gather() inside the block
    """

    def __init__(self, app: App | None = None, *, name: str = "taskgroup") -> None:
        self._app = app
        self._name = name
        self._members: list[Canvas] = []
        self.run: WorkflowRun | None = None
        self.results: list[Any] | None = None

    async def __aenter__(self) -> TaskGroup:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and self.results is None and self._members:
            await self.gather()

    def create_task(self, member: Canvas | Task[..., Any]) -> int:
        """Add a member (a signature, chain or group); returns its index in the results."""
        if self.run is not None:
            raise JetjobsError("this TaskGroup has started; create every task before gather()")
        self._members.append(_sig(member))
        return len(self._members) - 1

    async def gather(self, timeout_s: float | None = None) -> list[Any]:
        """Start the members (once) and return their results in the order they were created.

        A failing member raises MemberFailed naming it (its task and index).
        """
        if self.run is None:
            canvas = group(self._members)
            app = self._app or canvas.owner()
            if app is None:
                raise JetjobsError("TaskGroup(app) is needed for members given by task name")
            self.run = await app.execute_canvas(canvas, name=self._name)
        try:
            self.results = list(await self.run.result(timeout_s=timeout_s))
        except WorkflowFailed as failed:
            raise MemberFailed(_member_label(failed.step, self._members), failed) from None
        return self.results


def _member_label(step: str | None, members: Sequence[Canvas]) -> str:
    if step is None:
        return "?"
    for index, member in enumerate(members):
        if isinstance(member, Signature) and step.split("-")[0] == member.task.rsplit(".", 1)[-1].split("-")[0]:
            return f"{step} (#{index})"
    return step


class TaskGraph:
    """Tasks with explicit dependencies, run on workers as one workflow.

    Example::

        graph = TaskGraph(app)
        fetch = graph.add_task(download.s(url), name="fetch")
        parse = graph.add_task(parse_page.s(), name="parse")      # gets fetch's output first
        graph.add_dependency(parse, fetch)
        results = await graph.execute_all()                       # {"fetch": ..., "parse": ...}
    """

    def __init__(self, app: App, *, name: str = "taskgraph") -> None:
        self._app = app
        self._name = name
        self._tasks: dict[str, Signature] = {}
        self._deps: dict[str, list[str]] = {}

    def add_task(self, task: Signature | Task[..., Any], *, name: str | None = None) -> str:
        sig = task if isinstance(task, Signature) else signature(task)
        label = name or sig.task.rsplit(".", 1)[-1]
        if label in self._tasks:
            raise WorkflowDefinitionError(f"task graph {self._name!r} already has a task named {label!r}")
        self._tasks[label] = sig
        self._deps[label] = []
        return label

    def add_dependency(self, task: str, depends_on: str) -> None:
        """``task`` runs after ``depends_on`` (and, unless immutable, gets its output first)."""
        for label in (task, depends_on):
            if label not in self._tasks:
                raise WorkflowDefinitionError(f"task graph {self._name!r} has no task {label!r}")
        self._deps[task].append(depends_on)

    def definition(self) -> WorkflowDef:
        steps = []
        for label, sig in self._tasks.items():
            deps = self._deps[label]
            args: list[Any] = [f"{{{{input.a.{label}[{i}]}}}}" for i in range(len(sig.args))]
            if deps and not sig.immutable:
                parent = [f"{{{{tasks.{d}.output}}}}" for d in deps]
                args.insert(0, parent[0] if len(parent) == 1 else parent)
            queue = sig.options.get("queue") or (sig.task_object.spec.queue if sig.task_object else None)
            kwargs = {k: f"{{{{input.k.{label}.{k}}}}}" for k in sig.kwargs}
            steps.append(StepDef(label, sig.task, queue=queue, depends_on=tuple(deps), args=tuple(args), input=kwargs))
        result = {label: f"{{{{tasks.{label}.output}}}}" for label in self._tasks}
        probe = WorkflowDef(self._name, "0", tuple(steps), result=result)
        return WorkflowDef(self._name, f"g{probe.def_hash[:16]}", tuple(steps), result=result)

    async def execute_all(self, timeout_s: float | None = None) -> dict[str, Any]:
        """Run every task (dependencies first) and return a mapping of task name to result."""
        values = {
            "a": {label: list(sig.args) for label, sig in self._tasks.items() if sig.args},
            "k": {label: dict(sig.kwargs) for label, sig in self._tasks.items() if sig.kwargs},
        }
        run = await self._app.execute_definition(self.definition(), input=values)
        try:
            return dict(await run.result(timeout_s=timeout_s))
        except WorkflowFailed as failed:
            raise MemberFailed(failed.step or "?", failed) from None


class Pipeline:
    """A class whose ``steps`` run as a chain on workers: each gets the previous output.

    Example::

        class Ingest(Pipeline):
            steps = [validate, transform, store]

        result = await Ingest(app).run(record)
    """

    steps: ClassVar[Sequence[Any]] = ()

    def __init__(self, app: App) -> None:
        if not self.steps:
            raise WorkflowDefinitionError(f"pipeline {type(self).__name__} has no steps")
        self._app = app

    def canvas(self, *args: Any, **kwargs: Any) -> Canvas:
        first, *rest = [_sig(s) for s in self.steps]
        if not isinstance(first, Signature):
            raise WorkflowDefinitionError("a pipeline's first step must be a task or signature")
        head = Signature(
            first.task,
            (*args, *first.args),
            {**first.kwargs, **kwargs},
            first.immutable,
            first.options,
            first.task_object,
        )
        return chain(head, *rest)

    async def run(self, *args: Any, timeout_s: float | None = None, **kwargs: Any) -> Any:
        """Run the pipeline with the first step's arguments; return the last step's output."""
        run = await self._app.execute_canvas(self.canvas(*args, **kwargs), name=_pipeline_name(type(self)))
        return await run.result(timeout_s=timeout_s)


def _pipeline_name(cls: type) -> str:
    return f"pipeline-{cls.__name__}"[:100]


class BatchTask:
    """Process items in chunks of ``batch_size`` on workers, side by side; results joined in order.

    ``task`` takes one list (a chunk) and returns a list (its results). The number of
    chunks is decided per run from the items; the chunks travel in the run's input.

    Example::

        @app.task(queue="batch")
        async def score(items: list[dict]) -> list[float]: ...

        results = await BatchTask(app, score, batch_size=100).run(records)   # one result per record
    """

    def __init__(self, app: App, task: Task[..., Any] | str, *, batch_size: int, queue: str | None = None) -> None:
        if batch_size < 1:
            raise WorkflowDefinitionError("batch_size must be >= 1")
        self._app = app
        self._task = task if isinstance(task, str) else task.name
        self._queue = queue or (None if isinstance(task, str) else task.spec.queue)
        self.batch_size = batch_size

    def definition(self, chunks: int) -> WorkflowDef:
        steps = tuple(
            StepDef(f"chunk-{i}", self._task, queue=self._queue, args=(f"{{{{input.chunks[{i}]}}}}",))
            for i in range(chunks)
        )
        result = [f"{{{{tasks.chunk-{i}.output}}}}" for i in range(chunks)]
        name = f"batch-{self._task.rsplit('.', 1)[-1]}"[:100]
        probe = WorkflowDef(name, "0", steps, result=result)
        return WorkflowDef(name, f"n{chunks}-{probe.def_hash[:12]}", steps, result=result)

    async def run(self, items: Sequence[Any], *, timeout_s: float | None = None) -> list[Any]:
        """Split, run every chunk, and return the results of all items in order."""
        items = list(items)
        if not items:
            return []
        chunks = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        run = await self._app.execute_definition(
            self.definition(math.ceil(len(items) / self.batch_size)), input={"chunks": chunks}
        )
        try:
            parts = await run.result(timeout_s=timeout_s)
        except WorkflowFailed as failed:
            raise MemberFailed(failed.step or "?", failed) from None
        joined: list[Any] = []
        for part in parts:
            joined.extend(part if isinstance(part, list) else [part])
        return joined
