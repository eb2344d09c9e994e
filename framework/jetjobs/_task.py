"""Task declarations and job requests."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, Protocol, TypeVar

from ._canvas import Signature as CanvasSignature
from ._canvas import signature
from ._job import Job
from ._limits import Limits, TimeoutAction, check_timeout_action, make_limits
from ._names import Priority, check_priority, check_queue_name
from ._options import CLASS_OPTIONS, unknown_option
from ._retry import Backoff, RetryPolicy
from ._signature import Signature
from ._unique import DEFAULT_UNIQUE_TTL_S, UniquePolicy, UniqueSpec, make_unique
from .errors import ConfigError, InvalidPayload

if TYPE_CHECKING:
    from ._context import JobContext
    from ._hooks import Hooks
    from ._middleware import Middleware
    from ._outcome import ErrorInfo

P = ParamSpec("P")
R = TypeVar("R")

TaskKind = Literal["async", "thread", "process"]
DEFAULT_QUEUE = "default"


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """Everything declared about a task, as shown by ``App.task_specs()``."""

    name: str
    queue: str
    priority: Priority
    retry: RetryPolicy
    timeout_s: float | None
    store_result: bool
    kind: TaskKind
    description: str
    version: str | None
    module: str
    qualname: str
    unique: UniqueSpec | None = None
    timeout_action: TimeoutAction = "retry"
    limits: Limits | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (the 'routes' view Celery users know)."""
        return {
            "name": self.name,
            "queue": self.queue,
            "priority": self.priority,
            "kind": self.kind,
            "max_retries": self.retry.max_retries,
            "retry_backoff": self.retry.backoff,
            "retry_delay_s": self.retry.delay_s,
            "retry_max_delay_s": self.retry.max_delay_s,
            "retry_jitter": self.retry.jitter,
            "retry_for": [t.__qualname__ for t in self.retry.retry_for],
            "timeout_s": self.timeout_s,
            "timeout_action": self.timeout_action,
            "max_memory": self.limits.memory_text if self.limits is not None else None,
            "cpu_limit": self.limits.cpu if self.limits is not None else None,
            "store_result": self.store_result,
            "version": self.version,
            "unique": self.unique.policy if self.unique is not None else None,
            "description": self.description,
            "function": f"{self.module}.{self.qualname}",
        }


@dataclass(frozen=True, slots=True)
class EnqueueOptions:
    """Per-job choices that are not task arguments."""

    job_id: str | None = None
    priority: Priority | int | None = None
    queue: str | None = None
    metadata: Mapping[str, str] | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    delay_s: float | None = None
    eta: datetime | None = None
    headers: Mapping[str, str] | None = None  # extra wire headers (workflow steps); not for user metadata
    version: str | None = None  # the task version a worker must have (default: the registered task's)


@dataclass(frozen=True, slots=True)
class JobRequest:
    """One job to enqueue: a task name, its arguments and options.

    Build it with ``task.call(...)`` (validated against the task's signature) or
    directly, by name, for a task this service does not import.
    """

    task: str
    args: tuple[Any, ...] | list[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    options: EnqueueOptions = field(default_factory=EnqueueOptions)
    encoded: bool = False  # args already validated and JSON-ready


def enqueue_options(options: Mapping[str, Any]) -> EnqueueOptions:
    """EnqueueOptions from keyword arguments; an unknown one is a ConfigError naming the closest."""
    valid = tuple(f for f in EnqueueOptions.__dataclass_fields__ if f != "headers")
    for option in options:
        if option not in valid:
            raise unknown_option(option, valid, "enqueue")
    return EnqueueOptions(**options)


Enqueue = Callable[[JobRequest], Awaitable[Job]]
"""Enqueue one job (``App.enqueue_request``, ``Producer.send``): what collaborators that enqueue are handed."""


class TaskOwner(Protocol):
    """What a task uses of the app that registered it (``App`` is one): enqueueing its jobs."""

    async def enqueue_request(self, request: JobRequest) -> Job: ...


class Task(Generic[P, R]):
    """A function registered with ``@app.task``; also the base class of task classes.

    Calling the task runs the function here and now; ``enqueue`` sends it to a worker.

    Example::

        job = await send_email.enqueue("a@example.com", subject="hi")
        urgent = send_email.options(priority="high", job_id="welcome-42")
        job = await urgent.enqueue("b@example.com", subject="yo")

    **Task classes.** Subclass ``Task`` to share defaults and behaviour between tasks, and
    register functions with ``@app.task(base=YourClass)``: class attributes named like
    ``@app.task`` options (``queue``, ``max_retries``, ``timeout_s``...) are defaults that
    the decorator's own options override; ``validate_input`` runs before the call (at
    enqueue and in the worker), ``report_result`` after a successful call (in the worker),
    and ``on_success`` / ``on_retry`` / ``on_failure`` / ``on_cancel`` are hooks::

        class ProcessingTask(jetjobs.Task):
            queue = "processing"
            max_retries = 5
            timeout_s = 120

            def validate_input(self, doc_id: int, **kwargs: Any) -> None:
                if doc_id <= 0:
                    raise ValueError("doc_id must be positive")

            def report_result(self, result: Any) -> None:
                stats.record(self.name, result)

            def on_failure(self, job, error, state) -> None:
                alerts.send(f"{job.id}: {error.message}")

        @app.task(base=ProcessingTask, timeout_s=600)     # overrides the class's timeout_s
        async def process(doc_id: int) -> dict: ...
    """

    def __init__(
        self,
        app: TaskOwner,
        fn: Callable[P, R],
        spec: TaskSpec,
        middleware: tuple[Middleware, ...] = (),
        hooks: tuple[Hooks, ...] = (),
    ) -> None:
        self.app = app
        self.fn = fn
        self.spec = spec
        self.middleware = middleware
        self.hooks = hooks
        self.signature = Signature(fn, spec.name)
        functools.update_wrapper(self, fn)
        method_hooks = _method_hooks(self)
        if method_hooks is not None:
            self.hooks = (*hooks, method_hooks)

    # -- task classes: override in a subclass (see the class docstring) --------------

    def validate_input(self, *args: Any, **kwargs: Any) -> None:
        """Check the arguments before the call; raise to refuse them (at enqueue: InvalidPayload)."""

    def report_result(self, result: Any) -> Any:
        """Called in the worker with the return value of a successful call, before it is stored (may be async)."""

    def on_success(self, job: JobContext, result_json: bytes) -> Any:
        """Hook: the attempt succeeded."""

    def on_retry(self, job: JobContext, error: ErrorInfo, delay_s: float) -> Any:
        """Hook: the attempt failed and the job will run again after ``delay_s``."""

    def on_failure(self, job: JobContext, error: ErrorInfo, state: str) -> Any:
        """Hook: the job failed for good and went to the DLQ."""

    def on_cancel(self, job: JobContext, reason: str) -> Any:
        """Hook: the job was cancelled."""

    def checks_input(self) -> bool:
        return type(self).validate_input is not Task.validate_input

    def reports_result(self) -> bool:
        return type(self).report_result is not Task.report_result

    def check_input(self, args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any]) -> None:
        """Run ``validate_input``; its error becomes InvalidPayload naming the task."""
        try:
            self.validate_input(*args, **kwargs)
        except Exception as exc:
            raise InvalidPayload(f"task {self.name!r}: validate_input refused the arguments: {exc}") from exc

    @property
    def name(self) -> str:
        return self.spec.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.spec.name} queue={self.spec.queue}>"

    def call(self, *args: P.args, **kwargs: P.kwargs) -> JobRequest:
        """Validate arguments and return a JobRequest (for ``App.enqueue_many``)."""
        if self.checks_input():
            self.check_input(args, kwargs)
        wire_args, wire_kwargs = self.signature.encode_call(args, kwargs)
        return JobRequest(self.spec.name, wire_args, wire_kwargs, encoded=True)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """Validate arguments and enqueue one job; raises InvalidPayload before publishing."""
        return await self.app.enqueue_request(self.call(*args, **kwargs))

    def s(self, *args: Any, **kwargs: Any) -> CanvasSignature:
        """A partial signature for a canvas: in a chain, the previous step's output is prepended.

        Example::

            run = await app.enqueue(chain(fetch.s(url), parse.s(), store.s(table="pages")))
        """

        return signature(self, *args, **kwargs)

    def si(self, *args: Any, **kwargs: Any) -> CanvasSignature:
        """An immutable signature: it ignores the previous step's output."""

        return signature(self, *args, immutable=True, **kwargs)

    def options(self, **options: Any) -> BoundTask[P, R]:
        """Per-job options: job_id, priority, queue, metadata, timeout_s, max_retries, delay_s, eta, version."""
        return BoundTask(self, enqueue_options(options))


class BoundTask(Generic[P, R]):
    """A task with per-job options attached; see ``Task.options``."""

    def __init__(self, task: Task[P, R], options: EnqueueOptions) -> None:
        self._task = task
        self._options = options

    def call(self, *args: P.args, **kwargs: P.kwargs) -> JobRequest:
        return replace(self._task.call(*args, **kwargs), options=self._options)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        return await self._task.app.enqueue_request(self.call(*args, **kwargs))


_HOOK_METHODS = ("on_success", "on_retry", "on_failure", "on_cancel")


def class_defaults(base: type[Task[..., Any]]) -> dict[str, Any]:
    """The option defaults a task class sets as class attributes (nearest class wins)."""
    if not (isinstance(base, type) and issubclass(base, Task)):
        raise ConfigError(f"base must be a subclass of jetjobs.Task, got {base!r}")
    defaults: dict[str, Any] = {}
    for cls in reversed(base.__mro__):
        if cls is Task or not issubclass(cls, Task):
            continue
        for key, value in vars(cls).items():
            if key in CLASS_OPTIONS:
                defaults[key] = value.__func__ if isinstance(value, staticmethod) else value
    return defaults


def _method_hooks(task: Task[..., Any]) -> Hooks | None:
    """The hook methods a task class overrides, as a Hooks object (None if it overrides none)."""
    from ._hooks import Hooks

    names = [n for n in _HOOK_METHODS if getattr(type(task), n) is not getattr(Task, n)]
    if not names:
        return None
    methods = {n: functools.partialmethod(_delegate, n) for n in names}
    kind = type(f"{type(task).__name__}Hooks", (Hooks,), {**methods, "_task": task})
    hooks: Hooks = kind()
    return hooks


def _delegate(self: Any, name: str, *args: Any) -> Any:
    return getattr(self._task, name)(*args)


def task_kind(fn: Callable[..., Any], cpu_bound: bool) -> TaskKind:
    is_async = inspect.iscoroutinefunction(fn) or asyncio.iscoroutinefunction(fn)
    if cpu_bound:
        return "process"
    return "async" if is_async else "thread"


def make_task(
    app: TaskOwner,
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    queue: str = DEFAULT_QUEUE,
    priority: Priority | int = "normal",
    max_retries: int = 3,
    retry_backoff: Backoff = "exponential",
    retry_delay_s: float = 1.0,
    retry_max_delay_s: float = 300.0,
    retry_factor: float = 2.0,
    retry_jitter: bool = True,
    retry_for: tuple[type[BaseException], ...] = (Exception,),
    timeout_s: float | None = None,
    store_result: bool = True,
    cpu_bound: bool = False,
    description: str | None = None,
    version: str | None = None,
    middleware: Sequence[Middleware] = (),
    hooks: Sequence[Hooks] = (),
    unique: bool = False,
    unique_key: Callable[..., Any] | None = None,
    unique_policy: UniquePolicy = "reject",
    unique_ttl_s: float = DEFAULT_UNIQUE_TTL_S,
    timeout_action: TimeoutAction = "retry",
    max_memory: int | str | None = None,
    cpu_limit: float | None = None,
    base: type[Task[..., Any]] = Task,
) -> Task[..., Any]:
    """Validate a task declaration and build its Task (see ``App.task`` for the options)."""
    task_name = name or fn.__name__
    if not task_name or any(c.isspace() for c in task_name):
        raise ConfigError(f"invalid task name {task_name!r}")
    check_queue_name(queue)
    priority = check_priority(priority)
    if timeout_s is not None and not timeout_s > 0:
        raise ConfigError(f"task {task_name!r}: timeout_s must be > 0")
    if not isinstance(retry_for, tuple):
        retry_for = tuple(retry_for) if isinstance(retry_for, Iterable) else (retry_for,)
    kind = task_kind(fn, cpu_bound)
    if cpu_bound and inspect.iscoroutinefunction(fn):
        raise ConfigError(f"task {task_name!r}: cpu_bound tasks must be plain (non-async) functions")
    if cpu_bound and fn.__module__ == "__main__":
        raise ConfigError(f"task {task_name!r}: cpu_bound tasks must live in an importable module, not __main__")
    doc = inspect.getdoc(fn) or ""
    spec = TaskSpec(
        name=task_name,
        queue=queue,
        priority=priority,
        retry=RetryPolicy(
            max_retries=max_retries,
            backoff=retry_backoff,
            delay_s=retry_delay_s,
            max_delay_s=retry_max_delay_s,
            factor=retry_factor,
            jitter=retry_jitter,
            retry_for=retry_for,
        ),
        timeout_s=timeout_s,
        store_result=store_result,
        kind=kind,
        description=description if description is not None else doc.split("\n", 1)[0],
        version=version,
        module=fn.__module__,
        qualname=fn.__qualname__,
        unique=make_unique(task_name, unique, unique_key, unique_policy, unique_ttl_s),
        timeout_action=check_timeout_action(task_name, timeout_action),
        limits=make_limits(task_name, kind, max_memory, cpu_limit),
    )
    return base(app, fn, spec, tuple(middleware), tuple(hooks))


def declared_options(task: Task[..., Any]) -> dict[str, Any]:
    """The ``@app.task`` options ``task`` was declared with (to register it again elsewhere)."""
    spec, retry = task.spec, task.spec.retry
    return {
        "name": spec.name,
        "queue": spec.queue,
        "priority": spec.priority,
        "max_retries": retry.max_retries,
        "retry_backoff": retry.backoff,
        "retry_delay_s": retry.delay_s,
        "retry_max_delay_s": retry.max_delay_s,
        "retry_factor": retry.factor,
        "retry_jitter": retry.jitter,
        "retry_for": retry.retry_for,
        "timeout_s": spec.timeout_s,
        "store_result": spec.store_result,
        "cpu_bound": spec.kind == "process",
        "description": spec.description,
        "version": spec.version,
        "middleware": task.middleware,
        "hooks": task.hooks,
    }
