"""The App: task registry, queue settings, connection, enqueue and status."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from pydantic import ValidationError

from . import telemetry, transport
from ._canvas import Canvas
from ._dead_letters import DeadLetters
from ._defaults import merged
from ._discovery import import_modules, resolve
from ._hooks import Hooks
from ._job import Job
from ._limits import TimeoutAction
from ._link import Link
from ._logging import Redact, redact_secrets
from ._middleware import Middleware
from ._names import Priority, check_queue_name
from ._options import check_task_options, schedule_fields
from ._producer import Producer
from ._results import Results
from ._retry import LOST_DELIVERY_SLACK, Backoff
from ._settings import QueueConfig, Settings, load_settings
from ._status import JobInfo
from ._task import (
    DEFAULT_QUEUE,
    JobRequest,
    Task,
    TaskSpec,
    class_defaults,
    declared_options,
    enqueue_options,
    make_task,
)
from ._unique import DEFAULT_UNIQUE_TTL_S, UniquePolicy
from ._wire import parse_iso
from .catalog import Catalog
from .errors import ConfigError
from .scheduler import Schedules
from .telemetry import AlertHandler
from .worker._presence import PRESENCE_TTL_S
from .worker._pull import Consumer, HeldJob, Pulls
from .worker._steps import StepGuard
from .workflow import Step, Workflow, WorkflowDef, WorkflowRun
from .workflow._client import Workflows
from .workflow._runs import RunStatus
from .workflow._state import RunRecord

_SCHEDULE_FIELDS = ("tz", "jitter_s", "exclusive", "misfire", "misfire_grace_s", "max_retries", "priority", "start_at")

P = ParamSpec("P")
R = TypeVar("R")


class App:
    """A jetjobs application: the tasks of one service and how to reach NATS.

    Settings come from keyword arguments, then ``JETJOBS_*`` environment
    variables, then ``JETJOBS_CONFIG_FILE`` (see ``Settings``).

    Example::

        app = App("billing", queues={"emails": {"concurrency": 32}})

        @app.task(queue="emails", max_retries=5, retry_for=(ConnectionError,))
        async def send_email(to: str, subject: str, body: str = "") -> dict:
            ...

        async with app:
            job = await send_email.enqueue("a@example.com", subject="hi")
            print(await job.result(timeout_s=10))
    """

    def __init__(
        self,
        name: str,
        *,
        settings: Settings | None = None,
        queues: Mapping[str, QueueConfig | Mapping[str, Any]] | None = None,
        middleware: Sequence[Middleware] = (),
        hooks: Sequence[Hooks] = (),
        alert_handlers: Sequence[AlertHandler] = (),
        log_redact: Redact | None = None,
        **overrides: Any,
    ) -> None:
        if not name or not name.strip():
            raise ConfigError("App needs a name (used as the NATS client name and service name)")
        self.name = name
        self.settings = settings if settings is not None else load_settings(**overrides)
        self.tasks: dict[str, Task[..., Any]] = {}
        self.middleware: list[Middleware] = list(middleware)
        self.hooks: list[Hooks] = list(hooks)
        self.alert_handlers: list[AlertHandler] = list(alert_handlers)
        # With log_arguments on, job log lines carry the arguments as this returns them.
        self.log_redact: Redact = log_redact if log_redact is not None else redact_secrets
        self._queues: dict[str, QueueConfig] = {}
        self._declared: dict[str, Mapping[str, Any]] = {}  # each task's own options, to re-apply defaults
        self._config_schedules_done = False
        for queue, cfg in (queues or {}).items():
            self.queue(queue, cfg)
        # The collaborators, each handed what it uses (see docs/architecture.md).
        self.link = Link(name, self.settings)
        self.results = Results(self.link)
        self.catalog = Catalog(self.link)
        self.producer = Producer(self.link, self.tasks, self.queue_config, self.results, self.catalog)
        self.dead_letters = DeadLetters(self.link, self.producer.republish, self.results)
        self.pulls = Pulls(self.link, self.tasks, self.queue_config, self.provision)
        self.schedules = Schedules(self.link, self.tasks, self.queue_config, self.producer.send)
        self.workflows = Workflows(
            connection=self._connected,
            enqueue=self.producer.send,
            settings=self.settings,
            task=self.tasks.get,
            start_span=telemetry.workflow_span,
            on_run_end=_count_run,
        )
        telemetry.instrument(self)

    def __repr__(self) -> str:
        return f"<App {self.name} tasks={len(self.tasks)}>"

    # -- declarations -------------------------------------------------------------

    def on_alert(self, handler: AlertHandler) -> AlertHandler:
        """Call ``handler(AlertEvent)`` when a queue alert (``alert_backlog``, ``alert_error_rate``)
        starts or ends in a worker of this app; a decorator. Sync or async; errors are logged.

        Example::

            @app.on_alert
            def notify(event: AlertEvent) -> None:
                print(event.queue, event.alert, "on" if event.active else "off", event.value)
        """
        self.alert_handlers.append(handler)
        return handler

    def queue(self, name: str, config: QueueConfig | Mapping[str, Any] | None = None, **fields: Any) -> QueueConfig:
        """Declare a queue's settings in code; ``JETJOBS_QUEUES__<name>__<field>`` and the
        config file still override single fields, so operators can tune without a release.
        """
        check_queue_name(name)
        try:
            base = config if isinstance(config, QueueConfig) else QueueConfig(**{**dict(config or {}), **fields})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"queue {name!r}: {problems}") from None
        self._queues[name] = base
        if hasattr(self, "producer"):
            self.producer.routes.clear()  # routes carry queue settings
        for task_name, options in self._declared.items():  # tasks declared before their queue
            task = self.tasks[task_name]
            if task.spec.queue == name:
                fresh = make_task(self, task.fn, **self._with_defaults(options))
                task.spec = dataclasses.replace(task.spec, retry=fresh.spec.retry)
        return self.queue_config(name)

    def queue_config(self, name: str) -> QueueConfig:
        """The effective settings of queue ``name``: code declaration, then settings overrides."""
        return self.settings.queue(name, self._queues.get(name))

    def queue_names(self) -> list[str]:
        """Queues declared in code or settings, plus every queue a task uses."""
        names = set(self._queues) | set(self.settings.queues) | {t.spec.queue for t in self.tasks.values()}
        return sorted(names)

    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(
        self,
        /,
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
    ) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    def task(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Register a function as a task.

        Async functions run on the worker's event loop, plain functions in a thread
        pool, ``cpu_bound=True`` functions in a process pool (where ``timeout_s``
        really stops them). ``max_retries`` re-runs after the first attempt, with
        exponential/linear/fixed backoff, capped and jittered; only errors that are
        instances of ``retry_for`` are retried (plus ``Retry`` and timeouts), others
        go straight to the dead-letter queue.

        ``unique=True`` allows one live job per key (default key: the task name and
        its arguments; ``unique_key`` makes it from the arguments it names). A second
        enqueue while the key is held: ``unique_policy="reject"`` raises DuplicateJob
        naming the holder, ``"return_existing"`` returns the holder's Job, ``"queue"``
        enqueues it and it runs after the holder ends. See docs/guide.md#unique-jobs.

        Example::

            @app.task(unique=True, unique_key=lambda user_id: f"user:{user_id}")
            async def sync_user(user_id: int, full: bool = False) -> None: ...
        """
        if fn is not None:
            return self._register(fn, **options)
        return lambda f: self._register(f, **options)

    def register(self, fn: str | Callable[..., Any], /, **options: Any) -> Task[..., Any]:
        """Register a function as a task by dotted path (or the function itself), e.g. in a worker's
        entry point that does not decorate: options are those of ``@app.task``.

        A ``Task`` declared with another App keeps its declaration; ``options`` override it.

        Example::

            app.register("myapp.tasks.send_email", queue="emails", max_retries=5)
        """
        target = resolve(fn) if isinstance(fn, str) else fn
        if isinstance(target, Task):
            if self.tasks.get(target.name) is target:
                return target  # its module registered it with this app already (on import)
            options = {**declared_options(target), **options}
            target = target.fn
        if not callable(target):
            raise ConfigError(f"{fn!r} is not a function (found {type(target).__name__})")
        return self._register(target, **options)

    def bulk_register(self, fns: Iterable[str | Callable[..., Any]], /, **options: Any) -> list[Task[..., Any]]:
        """``register`` each function (dotted paths or functions) with the same options.

        Example::

            app.bulk_register(["myapp.tasks.send_email", "myapp.tasks.send_sms"], queue="notifications")
        """
        return [self.register(fn, **options) for fn in fns]

    def discover_tasks(self, patterns: str | Iterable[str]) -> list[str]:
        """Import task modules (``pkg.mod``, ``pkg.*`` submodules, ``pkg.**`` all below) and return
        the names of the tasks they hold.

        Modules that decorate with this app register on import; a ``Task`` of another App found
        in a module is registered here with its declaration. A module that fails to import
        raises one ConfigError naming it.

        Example::

            app.discover_tasks("myapp.tasks.*")                   # or ["myapp.billing", "myapp.mail"]
        """
        names: set[str] = set()
        for module in import_modules(patterns):
            names |= {t.name for t in self.tasks.values() if t.spec.module == module.__name__}
            for value in list(vars(module).values()):
                if not isinstance(value, Task) or value.spec.module != module.__name__:
                    continue
                known = self.tasks.get(value.name)
                names.add(value.name if known is not None and known.fn is value.fn else self.register(value).name)
        return sorted(names)

    def routes(self) -> dict[str, dict[str, Any]]:
        """Task name -> queue, priority and options (Celery's ``get_tasks_routes``).

        Example::

            app.routes()["send_email"]["queue"]     # 'emails'
        """
        return {spec.name: {k: v for k, v in spec.describe().items() if k != "name"} for spec in self.task_specs()}

    def _register(self, fn: Callable[..., Any], **options: Any) -> Task[..., Any]:
        check_task_options(options)
        task = make_task(self, fn, **self._with_defaults(options))
        if task.name in self.tasks:
            raise ConfigError(f"task {task.name!r} is registered twice in app {self.name!r}")
        self.tasks[task.name] = task
        self._declared[task.name] = options
        return task

    def _with_defaults(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """A task's options over its class's, its queue's retry policy and the app's (docs/guide.md#defaults)."""
        base = options.get("base")
        declared = {**class_defaults(base), **options} if base is not None else dict(options)
        queue = self.queue_config(declared.get("queue") or DEFAULT_QUEUE)
        return {**merged(self.settings.retry_policy, queue.retry_policy), **declared}

    def _default_tz(self, queue: str | None, task: str) -> str:
        registered = self.tasks.get(task)
        name = queue or (registered.spec.queue if registered is not None else None)
        queue_tz = self.queue_config(name).timezone if name else None
        return queue_tz or self.settings.timezone or "UTC"

    def _apply_config_schedules(self) -> None:
        """Declare the schedules of ``scheduler: tasks:`` in settings (once; their tasks are registered by now)."""
        if self._config_schedules_done or self.settings.scheduler is None:
            return
        self._config_schedules_done = True
        for entry in self.settings.scheduler.tasks:
            self.register_periodic(entry.task or entry.name, name=entry.name, **schedule_fields(entry))

    def periodic(
        self,
        *,
        cron: str | None = None,
        every: timedelta | float | None = None,
        schedule: str | timedelta | None = None,
        name: str | None = None,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Callable[[Callable[P, R]], Task[P, R]]:
        """Register a function as a task and fire it on a schedule (see ``jetjobs scheduler``).

        Schedule options: ``tz``, ``jitter_s``, ``exclusive``, ``misfire`` ("skip" | "once" |
        "all"), ``misfire_grace_s``, ``timeout_s`` and ``max_retries`` (per fire), ``priority``;
        every other keyword (``queue``, ``retry_*``...) goes to ``@app.task``. A bad cron
        expression or time zone raises ConfigError here, not at 2 a.m.

        Example::

            @app.periodic(cron="0 8 * * 1-5", tz="America/New_York", jitter_s=30, exclusive=True)
            async def weekday_report() -> None: ...
        """
        fields = {k: options.pop(k) for k in _SCHEDULE_FIELDS if k in options}
        if "timeout_s" in options:
            fields.setdefault("timeout_s", options["timeout_s"])

        def register(fn: Callable[P, R]) -> Task[P, R]:
            task: Task[P, R] = self._register(fn, **options)  # type: ignore[assignment]
            fields.setdefault("tz", self._default_tz(task.spec.queue, task.name))
            try:
                self.schedules.declare(
                    task.name, name=name, cron=cron, every=every, schedule=schedule, args=args, kwargs=kwargs, **fields
                )
            except ConfigError:
                del self.tasks[task.name]  # a rejected schedule leaves nothing behind
                raise
            return task

        return register

    def register_periodic(
        self, task: str, *, schedule: str | timedelta | None = None, name: str | None = None, **fields: Any
    ) -> None:
        """Fire a task (registered here or, with ``queue=``, in another service) on a schedule.

        Example::

            app.register_periodic("reports.daily_cleanup", schedule=crontab(hour=2, minute=0),
                                  queue="maintenance", args=["full"])
            app.register_periodic("monitoring.health_check", schedule=timedelta(minutes=5))
        """
        fields.setdefault("tz", self._default_tz(fields.get("queue"), task))
        self.schedules.declare(task, name=name, schedule=schedule, **fields)

    def bulk_register_periodic(
        self, entries: Iterable[tuple[str, str | timedelta, Sequence[Any]]], **fields: Any
    ) -> None:
        """``register_periodic`` for many ``(task, schedule, args)`` entries sharing ``fields``."""
        for task, schedule, args in entries:
            self.register_periodic(task, schedule=schedule, args=list(args), **fields)

    def periodic_tasks(self) -> dict[str, dict[str, Any]]:
        """Code schedules: name -> task, schedule, args, kwargs, queue and next fire."""
        self._apply_config_schedules()
        return self.schedules.describe()

    def task_specs(self) -> list[TaskSpec]:
        """Every registered task with its queue and settings, sorted by name."""
        return [self.tasks[n].spec for n in sorted(self.tasks)]

    # -- connection ---------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to NATS and make sure the status bucket exists. Idempotent."""
        self._apply_config_schedules()
        await self.link.connect()

    async def _connected(self) -> transport.Connection:
        await self.connect()
        return self.connection

    async def close(self) -> None:
        """Flush buffered writes and close the connection (and the pull API's consumers)."""
        await self.pulls.close()
        await self.link.close()

    async def __aenter__(self) -> App:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def connection(self) -> transport.Connection:
        return self.link.connection

    @property
    def status_store(self) -> transport.StatusStore:
        return self.link.status_store

    async def provision(self, queues: Iterable[str] | None = None) -> list[str]:
        """Create or update the streams, consumers and buckets of ``queues`` (default: all known),
        plus the shared ones: status, DLQ, schedules, worker presence, the task catalog, cancels,
        unique-job locks, the workflow objects and (for a cluster-wide rate limit) the rate counters.

        ``jetjobs provision`` runs it once as its own step; each object gets the replicas of
        its setting (``replicas`` sets them all).
        """
        conn = self.connection
        names = sorted(set(queues)) if queues is not None else self.queue_names()
        await transport.ensure_status_bucket(conn, self.settings)
        await transport.ensure_dlq(conn, self.settings)
        await transport.ensure_workers_bucket(conn, self.settings, PRESENCE_TTL_S)
        await self.schedules.bucket()
        await transport.WorkflowTransport(conn, self.settings).ensure()
        await self.catalog.ensure()
        await transport.CancelStore(conn, self.settings).ensure()
        await transport.LockStore(conn, self.settings).ensure()
        for queue in names:
            check_queue_name(queue)
            self.check_queue_fits_tasks(queue)
            cfg = self.queue_config(queue)
            await transport.ensure_queue(conn, queue, cfg, update=True)
            if cfg.rate_limit is not None and cfg.rate_scope != "replica":  # the workers' shared counters
                await transport.ensure_rate_stream(conn, replicas=cfg.replicas)
            self.link.known_streams.add(queue)
        return names

    async def publish_catalog(self, queues: Iterable[str] | None = None) -> None:
        """Publish the tasks of ``queues`` (default: all) to the server's task catalog (workers do at start).

        Producers that do not import these tasks then route them by name and check their
        arguments against the published JSON Schemas.
        """
        wanted = set(queues) if queues is not None else None
        tasks = [t for t in self.tasks.values() if wanted is None or t.spec.queue in wanted]
        await self.catalog.publish(tasks, service=self.name)

    async def check_provisioned(self, queues: Iterable[str] | None = None) -> list[str]:
        """Check, without creating anything, that ``queues`` (default: all known) are provisioned.

        What a worker does at start with ``provision_on_start=False``; raises ConfigError
        naming the first missing stream or consumer.
        """
        conn = self.connection
        names = sorted(set(queues)) if queues is not None else self.queue_names()
        for queue in names:
            check_queue_name(queue)
            self.check_queue_fits_tasks(queue)
            await transport.check_queue(conn, queue, self.queue_config(queue))
            self.link.known_streams.add(queue)
        return names

    def check_queue_fits_tasks(self, queue: str) -> None:
        """Every task's attempts (plus slack for interrupted deliveries) must fit max_deliveries."""
        cfg = self.queue_config(queue)
        for task in self.tasks.values():
            deliveries = task.spec.retry.max_attempts + LOST_DELIVERY_SLACK
            if task.spec.queue == queue and deliveries >= cfg.max_deliveries:
                raise ConfigError(
                    f"task {task.name!r} needs up to {deliveries} deliveries ({task.spec.retry.max_attempts} attempts "
                    f"+ {LOST_DELIVERY_SLACK} for interrupted ones) but queue {queue!r} has max_deliveries="
                    f"{cfg.max_deliveries}; raise the queue's max_deliveries above {deliveries}"
                )
            if task.spec.queue == queue and task.spec.priority not in cfg.priorities:
                raise ConfigError(f"task {task.name!r} uses priority {task.spec.priority!r}, not offered by {queue!r}")

    # -- producing ----------------------------------------------------------------

    @overload
    async def enqueue(self, task: Canvas, /, *, run_id: str | None = None, name: str | None = None) -> WorkflowRun: ...

    @overload
    async def enqueue(
        self,
        task: str | Task[..., Any],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Job: ...

    async def enqueue(
        self,
        task: str | Task[..., Any] | Canvas,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Job | WorkflowRun:
        """Enqueue a job by task name (or Task); the producer need not import the task.

        Given a canvas (``chain``, ``group``, ``chord``, ``task.s(...)``), start it as a
        workflow run instead and return its WorkflowRun.

        Options: ``job_id``, ``priority``, ``queue`` (for a task this app does not register,
        taken from the server's task catalog when its workers published it; required
        otherwise), ``metadata`` (str -> str), ``timeout_s``. Arguments of a catalogued task
        are checked against its published schema before anything is sent.

        Example::

            job = await app.enqueue("send_email", args=["a@example.com"], kwargs={"subject": "hi"},
                                    queue="emails", job_id="order-42", priority="high")
        """
        if isinstance(task, Canvas):
            return await self.execute_canvas(task, **options)
        name = task.name if isinstance(task, Task) else task
        request = JobRequest(name, tuple(args), dict(kwargs or {}), enqueue_options(options))
        return await self.producer.send(request)

    async def enqueue_request(self, request: JobRequest) -> Job:
        return await self.producer.send(request)

    async def enqueue_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        """Enqueue many jobs with their acknowledgements in flight together (fast bulk path).

        Example::

            calls = (send_email.call(f"user{i}@example.com", subject="hi") for i in range(1000))
            jobs = await app.enqueue_many(calls)
        """
        return await self.producer.send_many(list(requests))

    # -- taking jobs by hand ------------------------------------------------------------

    async def dequeue(self, queue: str, *, timeout_s: float | None = None, heartbeat: bool = True) -> HeldJob | None:
        """Take the next job of ``queue`` (high, then normal, then low priority); None when none
        came within ``timeout_s`` (``None`` waits forever).

        The job is held (heartbeated) until you settle it with ``complete(result)``,
        ``fail(error)``, ``retry(delay_s=...)`` or ``cancel()``: the same status records,
        retries and dead letters as a worker. One never settled comes back after the queue's
        ``ack_wait_s`` once this app closes; with ``heartbeat=False`` it comes back after
        ``ack_wait_s`` unless settled by then (a visibility timeout).

        Example::

            job = await app.dequeue("emails", timeout_s=5)
            if job is not None:
                await job.complete(await send(*job.args, **job.kwargs))
        """
        return await self.pulls.dequeue(queue, timeout_s=timeout_s, heartbeat=heartbeat)

    def consume(self, queue: str, *, max_in_flight: int = 1, heartbeat: bool = True) -> Consumer:
        """Jobs of ``queue`` as they come, with at most ``max_in_flight`` held (unsettled) at once.

        Example::

            async with app.consume("emails", max_in_flight=8) as jobs:
                async for job in jobs:
                    await job.complete(await send(*job.args, **job.kwargs))
        """
        return self.pulls.consume(queue, max_in_flight=max_in_flight, heartbeat=heartbeat)

    # -- status and results ------------------------------------------------------------

    async def status(self, job_id: str, *, wait_s: float = 0.0) -> JobInfo:
        """The stored status of a job; raises JobNotFound if there is none.

        ``wait_s`` waits that long for a record to appear: the record of a job enqueued
        a moment ago is written without waiting for the server (``Job.status`` waits).
        """
        return await self.results.status(job_id, wait_s=wait_s)

    async def cancel(self, job_id: str, *, queue: str | None = None, wait_s: float = 0.0) -> bool:
        """Cancel a job, from any service: delayed, queued, retrying or running.

        A delayed job's schedule is deleted; a queued (or retrying) job is marked
        cancelled and never runs; a running job is stopped: an async task's coroutine
        is cancelled, a ``cpu_bound`` task's process is killed, and a thread task sees
        ``current_job().cancelled`` become True (threads cannot be stopped from outside).
        Its final state is ``cancelled``.

        True when this call cancelled it (or asked its worker to); False when it had
        already ended (succeeded, failed, dead or cancelled), so a second call is
        harmless. With ``queue`` no status record is needed for a delayed job (one
        delayed longer than ``result_ttl_s`` has lost it).

        Example::

            job = await app.enqueue("render", args=[42])
            await app.cancel(job.id)            # or: await job.cancel()
        """
        return await self.results.cancel(job_id, queue=queue, wait_s=wait_s)

    def watch(self, job_id: str, *, timeout_s: float | None = None) -> AsyncIterator[JobInfo]:
        """The job's status now and at every change (state, progress) until it is final; see ``Job.watch``."""
        return self.results.watch(job_id, timeout_s=timeout_s)

    def job(self, job_id: str, task: str = "", queue: str = "") -> Job:
        """A handle on an existing job, e.g. one enqueued by another service."""
        return Job(self.results, job_id, task, queue)

    async def result(self, job_id: str, *, timeout_s: float | None = None) -> Any:
        """Wait (KV watch, no polling) until the job is final; return its result or raise."""
        return await self.results.result(job_id, timeout_s=timeout_s)

    # -- workflows ----------------------------------------------------------------------

    def workflow(
        self,
        name: str,
        *,
        version: str = "1",
        timeout_s: float | None = None,
        compensate: Mapping[str, Step] | None = None,
        description: str = "",
        retention_s: float | None = None,
    ) -> Workflow:
        """Declare a workflow (a DAG of steps); add steps with ``.step(...)``.

        Validated in full when a worker starts or a run is started (unknown
        dependency, cycle, a template naming a step that is not upstream...).

        Example::

            wf = app.workflow("order-processing", version="1.0", timeout_s=1800,
                              compensate={"process-payment": Step("refund_payment",
                                                                  input={"order_id": "{{input.order_id}}"})})
            wf.step("validate-order", validate_order, input={"order_id": "{{input.order_id}}"})
            wf.step("process-payment", process_payment, depends_on=["validate-order"],
                    input={"order_id": "{{input.order_id}}", "amount": "{{tasks.validate-order.output.amount}}"},
                    retry_on=["TransientError"])
            wf.step("fulfill-order", fulfill_order, depends_on=["process-payment"])
        """
        return self.workflows.declare(
            name,
            version=version,
            timeout_s=timeout_s,
            compensate=compensate,
            description=description,
            retention_s=retention_s,
        )

    def load_workflows(self, path: str | Path) -> list[WorkflowDef]:
        """Declare the workflows of a YAML file (``workflows: name: {version, timeout, tasks: [...]}``)."""
        return self.workflows.load(path)

    async def execute_workflow(
        self,
        name: str,
        input: Any = None,
        *,
        context: Any = None,
        version: str | None = None,
        run_id: str | None = None,
    ) -> WorkflowRun:
        """Start a run of workflow ``name`` (its latest version unless ``version``).

        ``run_id`` doubles as an idempotency key: starting the same id again returns
        the existing run. The run is pinned to the version it started with.

        Example::

            run = await app.execute_workflow("order-processing", input={"order_id": "o-1"})
            result = await run.result(timeout_s=60)
        """
        return await self.workflows.execute(name, input, context=context, version=version, run_id=run_id)

    async def execute_canvas(
        self, canvas: Canvas, *, run_id: str | None = None, input: Any = None, name: str | None = None
    ) -> WorkflowRun:
        """Start a canvas (chain, group, chord, signature) as a workflow run.

        Example::

            run = await app.execute_canvas(chain(fetch.s(url), group([a.s(), b.s()]), merge.s()))
        """
        return await self.workflows.execute_canvas(canvas, run_id=run_id, input=input, name=name)

    async def execute_definition(
        self, definition: WorkflowDef, *, input: Any = None, run_id: str | None = None
    ) -> WorkflowRun:
        """Start a run of a definition built in code (not declared): a graph, a batch..."""
        return await self.workflows.execute_definition(definition, input=input, run_id=run_id)

    async def workflow_run(self, run_id: str) -> WorkflowRun:
        """A handle on an existing run (e.g. started by another service)."""
        return await self.workflows.run(run_id)

    async def workflow_runs(
        self, *, name: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[RunStatus]:
        """Runs, newest first, optionally of one workflow and in one state."""
        return await self.workflows.runs(name=name, state=state, limit=limit)

    async def workflow_guard(self) -> StepGuard:
        """The worker's hook into the workflow engine (publishes this app's definitions)."""
        return await self.workflows.guard()


def _count_run(record: RunRecord) -> None:
    ended = parse_iso(record.finished_at or record.updated_at)
    telemetry.metrics.workflow_ended(
        record.name, record.state.value, (ended - parse_iso(record.started_at)).total_seconds()
    )
