"""Celery-style canvas values — signatures, chain, group, chord (compiled by ``jetjobs.workflow``).

Everything here compiles to the DAG engine's runs: one model, one set of guarantees,
one status API, one trace per run. A chain passes each step's output to the next
step as its first argument (unless the signature is immutable, ``.si()``); a group
runs its members side by side and its value is the list of their outputs in
declared order; a chord is a group followed by a callback that receives that list.

Example::

    canvas = chain(process_image.s("img"), group([resize.s("small"), resize.s("large")]), update_metadata.s())
    run = await app.enqueue(canvas)
    print(await run.result(timeout_s=60))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from .errors import ConfigError

TriggerRule = Literal["all_success", "all_done", "one_success"]


class TaskLike(Protocol):
    """What a signature reads of a ``Task``: its name, settings, function and app."""

    @property
    def name(self) -> str: ...
    @property
    def spec(self) -> Any: ...
    @property
    def fn(self) -> Any: ...
    @property
    def app(self) -> Any: ...


_OPTIONS = ("queue", "priority", "timeout_s", "retry", "retry_on")


class Canvas:
    """A chain, group, chord or single signature: something that compiles to a workflow."""

    def owner(self) -> Any:
        """The App of the first task that knows one (for ``canvas.enqueue()``)."""
        raise NotImplementedError

    def __or__(self, other: Canvas) -> Chain:
        return chain(self, other)

    async def enqueue(self, *, run_id: str | None = None, input: Any = None, name: str | None = None) -> Any:
        """Start a run of this canvas with the App of its tasks (returns its WorkflowRun);
        ``app.enqueue(canvas)`` does the same."""
        app = self.owner()
        if app is None:
            raise ConfigError(
                "this canvas names its tasks by string: start it with app.enqueue(canvas) or app.execute_canvas"
            )
        return await app.execute_canvas(self, run_id=run_id, input=input, name=name)


@dataclass(frozen=True, eq=False)
class Signature(Canvas):
    """A task with (some of) its arguments: ``task.s(...)`` (partial) or ``task.si(...)`` (immutable)."""

    task: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    immutable: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    task_object: TaskLike | None = None

    def set(self, **options: Any) -> Signature:
        """Per-step options: ``queue``, ``priority``, ``timeout_s``, ``retry`` (a StepRetry), ``retry_on``."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown option {unknown[0]!r} for {self.task}: use {', '.join(_OPTIONS)}")
        return replace(self, options={**self.options, **options})

    def owner(self) -> Any:
        return self.task_object.app if self.task_object is not None else None

    def __repr__(self) -> str:
        mark = "si" if self.immutable else "s"
        return f"{self.task}.{mark}(*{list(self.args)!r}, **{dict(self.kwargs)!r})"


@dataclass(frozen=True, eq=False)
class Chain(Canvas):
    items: tuple[Canvas, ...]

    def owner(self) -> Any:
        return next((o for o in (i.owner() for i in self.items) if o is not None), None)


@dataclass(frozen=True, eq=False)
class Group(Canvas):
    """Members side by side; ``trigger`` is how whatever follows waits for them."""

    items: tuple[Canvas, ...]
    trigger: TriggerRule = "all_success"

    def owner(self) -> Any:
        return next((o for o in (i.owner() for i in self.items) if o is not None), None)


def signature(task: str | TaskLike, *args: Any, immutable: bool = False, **kwargs: Any) -> Signature:
    """A signature by task name (a task of another service: give ``.set(queue=...)``) or Task."""
    if isinstance(task, str):
        return Signature(task, tuple(args), dict(kwargs), immutable)
    return Signature(task.name, tuple(args), dict(kwargs), immutable, task_object=task)


def chain(*items: Canvas) -> Chain:
    """Run ``items`` one after another, each getting the previous output as first argument."""
    flat: list[Canvas] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Chain) else (item,))
    if not flat:
        raise ConfigError("a chain needs at least one member")
    return Chain(tuple(flat))


def group(*items: Canvas | Iterable[Canvas], trigger: TriggerRule = "all_success") -> Group:
    """Run members side by side; their value is the list of outputs in declared order.

    ``trigger="all_done"``: whatever follows runs when every member ended, and receives
    each member's output or ``{"error": {"type", "message"}}``.
    """
    members: list[Canvas] = []
    for item in items:
        members.extend([item] if isinstance(item, Canvas) else list(item))
    if not members:
        raise ConfigError("a group needs at least one member")
    return Group(tuple(members), trigger)


def chord(header: Group | Sequence[Canvas], callback: Canvas, *, trigger: TriggerRule | None = None) -> Chain:
    """A group, then ``callback`` with the list of the members' outputs (exactly once)."""
    members = header if isinstance(header, Group) else group(list(header))
    if trigger is not None:
        members = replace(members, trigger=trigger)
    return chain(members, callback)
