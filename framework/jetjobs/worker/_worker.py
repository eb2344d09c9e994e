"""The worker service: fetch → execute → settle for each queue, plus shutdown."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .. import transport
from .._context import JobContext
from .._hooks import run_hooks
from .._names import check_queue_name
from .._outcome import Cancelled, Outcome, Requeue, RetryLater
from .._settings import QueueConfig
from .._status import JobState
from .._wire import now_iso
from ..errors import ConfigError, ConnectionFailed
from ..telemetry import ServiceRuntime, metrics
from ..telemetry._alerts import AlertMonitor, backlog_reader
from ..telemetry._backlog import BacklogMonitor
from ..transport import CancelStore, DeadLetterStore, Delivery, LockStore, StatusStore, consumer_state
from ._cancels import CancelWatch
from ._executor import Executor, Prepared
from ._fetcher import Fetcher, Source
from ._forwarder import Forwarder
from ._handover import HandOverPublisher
from ._mover import DeadLetterMover, partial_context
from ._presence import Presence
from ._procpool import ProcessPool
from ._ratelimit import Limiter, SharedBucket, TokenBucket
from ._running import RunningMarker
from ._settler import Settler, worker_id
from ._steps import StepGuard
from ._unique import Hold, UniqueGuard

if TYPE_CHECKING:
    from ._host import WorkerApp

log = logging.getLogger("jetjobs.worker")

_CONSUMER_CHECK_S = 1.0

_STEP_RETRY_S = 2.0


class Worker:
    """Runs the tasks of ``app`` from ``queues`` (default: every queue the app knows).

    Example::

        worker = Worker(app, queues=["emails"], concurrency=32)
        await worker.run()          # until worker.request_stop(), e.g. on SIGTERM
    """

    def __init__(
        self,
        app: WorkerApp,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        shutdown_grace_s: float | None = None,
        metrics_port: int | None = None,
        close_app: bool = True,
        steps: StepGuard | None = None,
    ) -> None:
        self.app = app
        self._steps = steps
        self._close_app = close_app
        self.metrics_port = metrics_port if metrics_port is not None else app.settings.metrics_port
        self.queues = list(queues) if queues else app.queue_names()
        if not self.queues:
            raise ConfigError(f"app {app.name!r} has no tasks and no queues: nothing to work on")
        for queue in self.queues:
            check_queue_name(queue)
        if concurrency is not None and concurrency < 1:
            raise ConfigError("concurrency must be >= 1")
        self.concurrency = concurrency
        self.shutdown_grace_s = app.settings.shutdown_grace_s if shutdown_grace_s is None else shutdown_grace_s
        self.fetchers: dict[str, Fetcher] = {}
        self._helpers: list[Fetcher] = []
        self._stop = asyncio.Event()
        self._hard_stop = asyncio.Event()
        self._in_settle: set[asyncio.Task[Any]] = set()
        self._threads: ThreadPoolExecutor | None = None
        self._processes: ProcessPool | None = None
        self._executor: Executor | None = None
        self._settler: Settler | None = None
        self._status: StatusStore | None = None
        self.started = asyncio.Event()
        self._worker_id = worker_id()
        self.runtime = ServiceRuntime(app, port=self.metrics_port, ready=lambda: self.ready)
        self._backlog: BacklogMonitor | None = None
        self._alerts: AlertMonitor | None = None
        self._marker_task: asyncio.Task[None] | None = None
        self._presence: Presence | None = None
        self._lost: ConnectionFailed | None = None
        self._cancels: CancelWatch | None = None
        self._unique: UniqueGuard | None = None

    @property
    def ready(self) -> bool:
        """Connected, and every queue's consumers are bound."""
        return bool(self.app.link.connected and self.fetchers and all(f.bound for f in self.fetchers.values()))

    def capacity(self, queue: str) -> int:
        return self.concurrency or self.app.queue_config(queue).concurrency

    async def start(self) -> None:
        app = self.app
        await app.connect()
        if app.settings.provision_on_start:
            await app.provision(self.queues)
        else:  # `jetjobs provision` ran as a deploy step: create nothing (no create rights needed)
            await app.check_provisioned(self.queues)
        await app.publish_catalog(self.queues)
        conn = app.connection
        conn.on_closed(self._connection_closed)
        for queue in self.queues:
            if not any(t.spec.queue == queue for t in app.tasks.values()):
                log.warning("queue %s has no tasks in app %s: its jobs will be dead-lettered", queue, app.name)
        self._status = app.status_store
        total = sum(self.capacity(q) for q in self.queues)
        self._threads = ThreadPoolExecutor(max_workers=total, thread_name_prefix="jetjobs-task")
        self._processes = ProcessPool(app.settings.processes or os.cpu_count() or 1)
        self._executor = Executor(
            app,
            threads=self._threads,
            processes=self._processes,
            unknown_task_retries=app.settings.unknown_task_retries,
            version_wait_s=app.settings.version_wait_s,
        )
        self._settler = Settler(self._status, DeadLetterStore(conn), app.queue_config, HandOverPublisher(conn))
        self._marker = RunningMarker(self._status)
        self._cancels = CancelWatch(CancelStore(conn, app.settings))
        if any(t.spec.unique is not None for t in app.tasks.values()):
            self._unique = UniqueGuard(LockStore(conn, app.settings), app.settings.unique_lock_ttl_s)
        await self._cancels.start()
        self._marker_task = asyncio.create_task(self._marker.run(), name="jetjobs-running-marker")
        if self._steps is None:
            self._steps = await app.workflow_guard()
        if self._steps is not None:
            await self._steps.start()
        for queue in self.queues:
            await self._start_queue(queue)
        # A pull the server refuses would leave this worker idle but "ready": fail now instead.
        await conn.check_access(self._pull_subjects())
        metrics.in_flight.add_source(self._in_flight)
        self._backlog = BacklogMonitor(conn, self.queues)
        await self._backlog.start()
        self._alerts = AlertMonitor(
            {q: app.queue_config(q) for q in self.queues},
            backlog_reader(conn),
            handlers=app.alert_handlers,
            interval_s=app.settings.alert_interval_s,
        )
        await self._alerts.start()
        await self.runtime.start()
        self._presence = Presence(
            conn,
            app=app.name,
            queues={q: self.capacity(q) for q in self.queues},
            in_flight=lambda: {q: f.running for q, f in self.fetchers.items()},
        )
        await self._presence.start()
        log.info(
            "worker of %s ready: queues %s, server %s %s",
            app.name,
            ", ".join(f"{q}(x{self.capacity(q)})" for q in self.queues),
            conn.url,
            conn.server_version,
        )
        self.started.set()

    def _pull_subjects(self) -> list[str]:
        names = self.app.connection.names
        pulls = []
        for queue in self.queues:
            consumers = [
                (names.stream(queue), names.consumer(queue, p)) for p in self.app.queue_config(queue).priorities
            ]
            consumers.append((names.advisory_stream, names.mover_consumer(queue)))
            consumers.append((names.delayed_stream, names.forwarder_consumer(queue)))
            pulls += [f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}" for stream, consumer in consumers]
        return pulls

    async def _start_queue(self, queue: str) -> None:
        conn = self.app.connection
        cfg = self.app.queue_config(queue)
        names = conn.names
        sources = [Source(p, names.stream(queue), names.consumer(queue, p)) for p in cfg.ordered_priorities()]
        limiter = await self._limiter(queue, cfg)

        async def handle(delivery: Delivery, priority: str) -> None:
            await self._handle(delivery, queue, priority)

        async def reprovision() -> None:
            # A 503 also answers pulls while a consumer elects a leader (a cluster failover):
            # provision only once the server says a consumer is gone, else just pull again.
            try:
                async with asyncio.timeout(_CONSUMER_CHECK_S):
                    states = [await consumer_state(conn, s.stream, s.consumer) for s in sources]
            except Exception as exc:
                log.info("consumers of %s do not answer (%s): a leader election?", queue, exc or "timeout")
                return
            if all(state is not None for state in states):
                return
            log.warning("consumers of %s are missing; provisioning them again", queue)
            await self.app.provision([queue])

        fetcher = Fetcher(
            conn,
            sources,
            capacity=self.capacity(queue),
            handle=handle,
            heartbeat_s=cfg.heartbeat_s,
            limiter=limiter,
            on_missing=reprovision,
        )
        await fetcher.start()
        self.fetchers[queue] = fetcher
        assert self._settler is not None
        assert self._status is not None
        # Two small helpers per queue, each with a pull loop of its own: the
        # dead-letter mover (advisories) and the forwarder of due delayed jobs.
        mover = DeadLetterMover(conn, queue, self._settler, self.app.hooks)
        forwarder = Forwarder(conn, queue, cfg, self._status)
        for source, handler, capacity in ((mover.source, mover.handle, 1), (forwarder.source, forwarder.handle, 16)):
            helper = Fetcher(conn, [source], capacity=capacity, handle=handler, heartbeat_s=10.0)
            await helper.start()
            self._helpers.append(helper)

    async def _limiter(self, queue: str, cfg: QueueConfig) -> Limiter | None:
        """The queue's start rate limit: shared by every replica (a server counter), or this one's own."""
        if cfg.rate_limit is None:
            return None
        if cfg.rate_scope == "replica":
            return TokenBucket(cfg.rate_limit, cfg.rate_burst)
        conn = self.app.connection
        await transport.ensure_rate_stream(conn, replicas=cfg.replicas)

        async def count(window: int, wanted: int) -> int:
            return await transport.increment(conn, conn.names.rate_subject(queue, window), wanted)

        return SharedBucket(cfg.rate_limit, cfg.rate_burst, count=count, want=self.capacity(queue))

    async def _handle(self, delivery: Delivery, queue: str, priority: str) -> None:
        assert self._executor is not None
        assert self._status is not None
        assert self._settler is not None
        started_at = now_iso()
        steps = self._steps
        if steps is not None and steps.is_control(delivery.headers):
            await self._control(steps, delivery)
            return
        prepared = self._executor.prepare(delivery, queue, priority)
        if not isinstance(prepared, Prepared):
            if steps is not None and steps.is_step(delivery.headers):
                await steps.unrun(delivery, prepared)
            await self._settle(delivery, None, prepared, queue, None)
            # Poison messages never ran, but they still show in traces, metrics and logs.
            await run_hooks(self.app.hooks, poison_context(delivery, queue, priority), prepared)
            return
        record = prepared.record
        attempts = delivery.num_delivered
        # A retry keeps the time of the first failure (read only when retrying: off the hot path).
        first = await self._settler.stored_first_failure(record.id, attempts) if attempts > 1 else None
        prepared.first_failure_at = first
        running = functools.partial(
            record.encode,
            JobState.RUNNING,
            updated_at=started_at,
            attempts=attempts,
            started_at=started_at,
            first_failure_at=first,
            worker=self._worker_id,
        )
        step = steps is not None and steps.is_step(delivery.headers)
        if step and not await self._fence(prepared, queue, started_at):
            return
        hold = None
        if prepared.task.spec.unique is not None or self._cancel_requested(prepared):
            go, hold = await self._admit(prepared, queue, started_at)
            if not go:
                return
        self._marker.started(record.id, running, prepared.ctx.control)
        try:
            outcome = await (self._execute_step(prepared) if step else self._execute(prepared))
        except asyncio.CancelledError:
            self._marker.finished(record.id)
            await self._settle(delivery, prepared, Requeue("worker shutting down"), queue, started_at)
            await self._leave(prepared, hold, Requeue("worker shutting down"))
            raise
        prepared.progress = self._marker.finished(record.id)
        if step:
            assert steps is not None
            try:
                # The run advances before the ack: a crash here is repaired by the redelivery.
                outcome = await steps.after(prepared, outcome)
            except Exception as exc:
                log.warning("workflow step %s: advancing the run failed (%s); redelivering", record.id, exc)
                await delivery.nak(_STEP_RETRY_S)
                return
        await self._settle(delivery, prepared, outcome, queue, started_at)
        if hold is not None:
            await self._leave(prepared, hold, outcome)
        await self._executor.hooks[prepared.task.name].run(prepared.ctx, outcome)

    async def _fence(self, prepared: Prepared, queue: str, started_at: str) -> bool:
        """A workflow step's start fence: True if the step runs now."""
        assert self._steps is not None
        delivery = prepared.delivery
        try:
            proceed = await self._steps.before(prepared)
        except Exception as exc:
            log.warning("workflow step %s: start fence failed (%s); redelivering", prepared.record.id, exc)
            await delivery.nak(_STEP_RETRY_S)
            return False
        if proceed == "skip":
            await delivery.ack()
            return False
        if proceed != "run":
            await self._settle(delivery, prepared, proceed, queue, started_at)
            return False
        return True

    def _cancel_requested(self, prepared: Prepared) -> bool:
        return self._cancels is not None and self._cancels.requested(prepared.record.id) is not None

    async def _admit(self, prepared: Prepared, queue: str, started_at: str) -> tuple[bool, Hold | None]:
        """May the job run now? Not if it was cancelled; a unique job first waits for its key."""
        if await self._skip_cancelled(prepared, queue, started_at):
            return False, None
        if prepared.task.spec.unique is None or self._unique is None:
            return True, None
        # Waits while another job holds the key (a cancel request ends the wait).
        hold = await self._unique.enter(prepared, lambda: self._cancel_requested(prepared))
        if await self._skip_cancelled(prepared, queue, started_at, hold):
            return False, None
        return True, hold

    async def _skip_cancelled(self, prepared: Prepared, queue: str, started_at: str, hold: Hold | None = None) -> bool:
        """Settle a job someone cancelled before it ran; True if it was."""
        reason = self._cancels.requested(prepared.record.id) if self._cancels is not None else None
        if reason is None or (self._steps is not None and self._steps.is_step(prepared.delivery.headers)):
            return False  # a workflow step is cancelled with its run (it must advance the run)
        assert self._executor is not None
        outcome = Cancelled(reason)
        await self._settle(prepared.delivery, prepared, outcome, queue, started_at)
        if hold is not None:
            await self._leave(prepared, hold, outcome)
        elif prepared.task.spec.unique is not None and self._unique is not None:
            await self._unique.free(prepared)  # a key taken at enqueue
        await self._executor.hooks[prepared.task.name].run(prepared.ctx, outcome)
        return True

    async def _leave(self, prepared: Prepared, hold: Hold | None, outcome: Outcome) -> None:
        if hold is None or self._unique is None:
            return
        spec = prepared.task.spec.unique
        keep_s = spec.ttl_s if spec is not None else 0.0
        await self._unique.leave(hold, final=not isinstance(outcome, RetryLater | Requeue), keep_s=keep_s)

    async def _execute(self, prepared: Prepared) -> Outcome:
        assert self._executor is not None
        if self._cancels is None:
            return await self._executor.execute(prepared)
        return await self._cancels.run(prepared, self._executor.execute)

    async def _execute_step(self, prepared: Prepared) -> Outcome:
        """Run a step in a task of its own, so that cancelling its run can stop just it."""
        assert self._executor is not None
        assert self._steps is not None
        execution = asyncio.create_task(self._executor.execute(prepared))
        untrack = self._steps.track(prepared, execution)
        try:
            return await execution
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                raise  # shutdown: hand the job back
            return Cancelled("its workflow run was cancelled")
        finally:
            untrack()

    async def _control(self, steps: StepGuard, delivery: Delivery) -> None:
        try:
            await steps.control(delivery)
        except Exception as exc:
            log.warning("workflow control message failed (%s); redelivering", exc)
            await delivery.nak(_STEP_RETRY_S)
            return
        await delivery.ack()

    async def _settle(
        self, delivery: Delivery, job: Prepared | None, outcome: Outcome, queue: str, started_at: str | None
    ) -> None:
        # A settle that has begun is not cancelled by a shutdown (cancel_running skips
        # these tasks and waits for them), so no job is left half-settled.
        assert self._settler is not None
        task = asyncio.current_task()
        assert task is not None
        self._in_settle.add(task)
        try:
            await self._settler.settle(delivery, job, outcome, queue, started_at)
        finally:
            self._in_settle.discard(task)

    def _connection_closed(self, reason: str) -> None:
        """nats-py closed the client for good (a server ``-ERR``): stop and let ``run()`` raise.

        Rebuilding every subscription, consumer and store in-process would repeat
        what a restart does, with less certainty; so the worker stops at once
        (readiness is already false: not connected) and exits non-zero, and its
        supervisor starts a fresh one. Jobs it held come back after ack_wait.
        """
        url = self.app.connection.settings.nats_url
        self._lost = ConnectionFailed(f"the connection to NATS at {url} was closed ({reason}); the worker stops")
        log.error("%s", self._lost)
        self._stop.set()
        self._hard_stop.set()

    def request_stop(self) -> None:
        """Begin a graceful stop; a second call stops hard (running jobs are handed back now)."""
        if self._stop.is_set():
            self._hard_stop.set()
        self._stop.set()

    async def run(self) -> None:
        """Start, work until ``request_stop()``, then shut down.

        Raises ConnectionFailed when the connection was closed for good while working.
        """
        try:
            await self.start()
        except BaseException:
            # The start-up error is the one to report, not what a half-started shutdown says.
            try:
                await self.shutdown()
            except Exception as exc:
                log.debug("shutdown after a failed start: %s", exc)
            raise
        try:
            await self._stop.wait()
        finally:
            await self.shutdown()
        if self._lost is not None:
            raise self._lost

    async def shutdown(self) -> None:
        """Stop in dependency order.

        1. Stop fetching and unsubscribe the pull inboxes (the server drops our waiting
           requests; nats-py's drain would also hang on them), then nak what was
           fetched but not started: another replica gets it at once.
        2. Give running jobs ``shutdown_grace_s`` to finish (heartbeats continue).
        3. Cancel the rest: each is naked, so another replica runs it now, not after ack_wait.
        4. Wait for settles, flush and close the connection, stop the pools.
        """
        fetchers = [*self.fetchers.values(), *self._helpers]
        for fetcher in fetchers:
            await fetcher.stop_fetching()
        await Presence.stop_if_started(self._presence)
        await self._grace(fetchers)
        for fetcher in fetchers:
            if fetcher.running:
                log.warning("handing back %d unfinished jobs", fetcher.running)
            await fetcher.cancel_running(keep=self._in_settle)
        # Jobs whose results are being stored are acked when the store answers: wait for it.
        # (No connection when start() failed to connect: then its error is the one to see.)
        conn = self.app.link.current
        if conn is not None:
            await conn.acks.drain(timeout_s=self.app.settings.request_timeout_s)
        if self._settler is not None:  # results still being stored after a failed write
            await self._settler.drain(self.app.settings.shutdown_grace_s)
        await self._stop_background()
        for fetcher in fetchers:
            await fetcher.close()
        self.fetchers.clear()
        self._helpers.clear()
        metrics.in_flight.remove_source(self._in_flight)
        if self._backlog is not None:
            await self._backlog.stop()
        if self._alerts is not None:
            await self._alerts.stop()
        await self.runtime.stop()
        if self._close_app:
            await self.app.close()
        if self._processes is not None:
            await self._processes.close()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)

    async def _stop_background(self) -> None:
        if self._marker_task is not None:
            self._marker_task.cancel()
        if self._cancels is not None:
            await self._cancels.stop()
        if self._steps is not None:
            await self._steps.stop()

    async def _grace(self, fetchers: list[Fetcher]) -> None:
        """Let running jobs finish within shutdown_grace_s, or until a hard stop."""
        running = sum(f.running for f in self.fetchers.values())
        if not running:
            return
        log.info("waiting up to %.0fs for %d running jobs", self.shutdown_grace_s, running)
        grace: asyncio.Future[Any] = asyncio.gather(*(f.wait_running(self.shutdown_grace_s) for f in fetchers))
        hard: asyncio.Future[Any] = asyncio.ensure_future(self._hard_stop.wait())
        _, pending = await asyncio.wait({grace, hard}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _in_flight(self) -> dict[tuple[str, ...], float]:
        return {(queue,): float(f.running) for queue, f in self.fetchers.items()}


def poison_context(delivery: Delivery, queue: str, priority: str) -> JobContext:
    """What is known of a message that could not be run, for hooks."""
    return partial_context(
        delivery.headers,
        delivery.stream_seq,
        delivery.subject,
        queue,
        priority,
        delivery.num_delivered,
        delivery.consumer,
    )
