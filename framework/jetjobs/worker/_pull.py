"""Taking jobs by hand: ``app.dequeue(queue)`` and ``app.consume(queue)``.

The same fetch → settle path as the worker, with the caller in place of the executor: a
``Fetcher`` pulls in priority order and heartbeats each held job; the caller's
``complete`` / ``fail`` / ``retry`` become an ``Outcome`` (``decide`` says what a failure
means) that the worker's ``Settler`` carries out — the same status records, retries and
dead letters. A job that is never settled is not given back: its heartbeat stops when its
consumer closes, and the server redelivers it after ``ack_wait_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from .. import transport
from .._context import JobContext
from .._link import Link
from .._outcome import Cancelled, DeadLetter, ErrorInfo, Outcome, Succeeded, decide
from .._retry import RetryPolicy
from .._settings import QueueConfig
from .._status import JobState, StatusRecord
from .._task import JobRequest, Task, make_task
from .._wire import JobHeaders, decode_headers, now_iso
from ..errors import InvalidPayload, JetjobsError
from ..errors import Retry as RetryRequest
from ._executor import Prepared, decode_arguments, job_policy
from ._fetcher import Fetcher, Source
from ._settler import Settler, worker_id

if TYPE_CHECKING:
    from .._job import Job

log = logging.getLogger("jetjobs.pull")

_ANY = TypeAdapter(Any)


class HeldJob:
    """A job taken from its queue by hand; settle it exactly once.

    ``args``/``kwargs`` are decoded with the task's signature when this app registers the
    task, else as they travel (JSON values). The job is heartbeated while held.

    Example::

        job = await app.dequeue("emails", timeout_s=5)
        if job is not None:
            try:
                await job.complete(await send(*job.args, **job.kwargs))
            except SmtpDown as exc:
                await job.fail(exc)           # retried with the task's backoff, then dead-lettered
    """

    def __init__(self, prepared: Prepared, settle: Callable[[Outcome], Awaitable[None]], known: bool) -> None:
        ctx = prepared.ctx
        self._prepared = prepared
        self._settle = settle
        self._known = known
        self.settled = False
        self.id = ctx.id
        self.task = ctx.task
        self.queue = ctx.queue
        self.priority = ctx.priority
        self.attempt = ctx.attempt
        self.max_attempts = ctx.max_attempts
        self.args = ctx.args
        self.kwargs = dict(ctx.kwargs)
        self.metadata = dict(ctx.metadata)
        self.headers = dict(ctx.headers)
        self.enqueued_at = ctx.enqueued_at

    def __repr__(self) -> str:
        return f"<HeldJob {self.id} task={self.task} queue={self.queue} attempt={self.attempt}>"

    async def complete(self, result: Any = None) -> None:
        """Store ``result`` (JSON, or what the task's return type encodes) and acknowledge."""
        encoded = self._prepared.task.signature.encode_result(result) if self._known else _encode_any(result, self.task)
        await self._finish(Succeeded(encoded))

    async def fail(self, error: BaseException | str) -> None:
        """An attempt failed: retried with the task's policy while attempts remain, else dead-lettered."""
        exc = error if isinstance(error, BaseException) else Exception(error)
        await self._finish(decide(exc, self.attempt, self._prepared.policy))

    async def retry(self, delay_s: float | None = None) -> None:
        """Give the job back for another attempt after ``delay_s`` (default: the backoff);
        it counts as an attempt, and the last one dead-letters it."""
        await self._finish(decide(RetryRequest(delay_s=delay_s), self.attempt, self._prepared.policy))

    async def cancel(self, reason: str = "") -> None:
        """Stop for good: ``cancelled``, no retry and no dead letter."""
        await self._finish(Cancelled(reason or "cancelled by its consumer"))

    async def _finish(self, outcome: Outcome) -> None:
        if self.settled:
            raise JetjobsError(f"job {self.id} is settled already")
        self.settled = True
        await self._settle(outcome)


def _encode_any(result: Any, task: str) -> bytes:
    try:
        return _ANY.dump_json(result)
    except Exception as exc:
        raise InvalidPayload(f"the result of {task} is not JSON: {exc}") from None


@dataclass(frozen=True, slots=True)
class _Ready:
    job: HeldJob
    done: asyncio.Event


class PullConsumer:
    """Jobs of one queue for ``dequeue``/``consume``: a Fetcher whose handler hands each job out.

    ``capacity`` held-or-waiting jobs at most; ``dequeue`` raises it by one per waiting call.
    """

    def __init__(
        self,
        conn: transport.Connection,
        queue: str,
        cfg: QueueConfig,
        *,
        tasks: Mapping[str, Task[..., Any]],
        settler: Settler,
        status: transport.StatusStore,
        capacity: int,
        heartbeat: bool = True,
    ) -> None:
        self.queue = queue
        self._tasks = tasks
        self._settler = settler
        self._status = status
        self._ready: asyncio.Queue[_Ready] = asyncio.Queue()
        self._stand_ins: dict[str, Task[..., Any]] = {}
        names = conn.names
        sources = [Source(p, names.stream(queue), names.consumer(queue, p)) for p in cfg.ordered_priorities()]
        # Without heartbeats a held job comes back after ack_wait unless settled (a visibility timeout).
        beat_s = cfg.heartbeat_s if heartbeat else 1e9
        self.fetcher = Fetcher(conn, sources, capacity=capacity, handle=self._handle, heartbeat_s=beat_s)

    async def start(self) -> None:
        await self.fetcher.start()

    async def get(self, timeout_s: float | None) -> HeldJob | None:
        """The next job, or None when none came within ``timeout_s`` (None: wait forever)."""
        try:
            async with asyncio.timeout(timeout_s):
                ready = await self._ready.get()
        except TimeoutError:
            return None
        return ready.job

    def want(self, more: int) -> None:
        """Room for ``more`` jobs (negative: less)."""
        self.fetcher.capacity = max(self.fetcher.capacity + more, 0)
        self.fetcher.wake()

    async def close(self) -> None:
        """Stop pulling; jobs fetched but never handed out go back at once, held ones after ack_wait."""
        await self.fetcher.stop_fetching()
        while not self._ready.empty():
            ready = self._ready.get_nowait()
            await ready.job._prepared.delivery.nak()
            ready.job.settled = True
            ready.done.set()
        await self.fetcher.cancel_running()
        await self.fetcher.close()

    async def _handle(self, delivery: transport.Delivery, priority: str) -> None:
        prepared = await self._prepare(delivery, priority)
        if not isinstance(prepared, Prepared):
            await self._settler.settle(delivery, None, prepared, self.queue, None)
            return
        started_at = now_iso()
        done = asyncio.Event()

        async def settle(outcome: Outcome) -> None:
            try:
                await self._settler.settle(delivery, prepared, outcome, self.queue, started_at)
            finally:
                done.set()

        record = prepared.record
        running = record.encode(
            JobState.RUNNING,
            updated_at=started_at,
            attempts=delivery.num_delivered,
            started_at=started_at,
            first_failure_at=prepared.first_failure_at,
            worker=worker_id(),
        )
        await self._status.put_nowait(record.id, running)
        await self._ready.put(_Ready(HeldJob(prepared, settle, prepared.task.name in self._tasks), done))
        # The slot (and the heartbeat) stays taken until the caller settles; a cancelled wait
        # (the consumer closed) leaves the message to come back after ack_wait.
        await done.wait()

    async def _prepare(self, delivery: transport.Delivery, priority: str) -> Prepared | Outcome:
        try:
            headers = decode_headers(delivery.headers)
        except InvalidPayload as exc:
            return DeadLetter(ErrorInfo.from_exception(exc), reason="malformed message", state="dead")
        task = self._tasks.get(headers.task)
        attempt = delivery.num_delivered
        policy = job_policy(task.spec.retry if task is not None else RetryPolicy(), headers, attempt)
        if not isinstance(policy, RetryPolicy):
            return policy
        decoded = decode_arguments(delivery.data, task)
        if not isinstance(decoded, tuple):
            return decoded
        args, kwargs = decoded
        ctx = _context(delivery, headers, self.queue, priority, policy, args, kwargs)
        record = StatusRecord(headers.job_id, headers.task, self.queue, priority, headers.enqueued_at or None)
        prepared = Prepared(delivery, task or self._stand_in(headers.task), ctx, record, policy)
        if attempt > 1:
            prepared.first_failure_at = await self._settler.stored_first_failure(record.id, attempt)
        return prepared

    def _stand_in(self, name: str) -> Task[..., Any]:
        """A task of this name that takes anything, for jobs of tasks this app does not register."""
        task = self._stand_ins.get(name)
        if task is None:
            task = self._stand_ins[name] = make_task(_NoOwner(), _any_call, name=name, queue=self.queue)
        return task


def _any_call(*args: Any, **kwargs: Any) -> Any:
    raise JetjobsError("a pulled job of a task this app does not register is run by its consumer")


class _NoOwner:
    async def enqueue_request(self, request: JobRequest) -> Job:
        raise JetjobsError(f"task {request.task!r} was only seen in a pulled job; enqueue it through an App")


def _context(
    delivery: transport.Delivery,
    headers: JobHeaders,
    queue: str,
    priority: str,
    policy: RetryPolicy,
    args: list[Any],
    kwargs: dict[str, Any],
) -> JobContext:
    return JobContext(
        id=headers.job_id,
        task=headers.task,
        queue=queue,
        priority=priority,
        attempt=delivery.num_delivered,
        max_attempts=policy.max_attempts,
        enqueued_at=headers.enqueued_at,
        timeout_s=headers.timeout_s,
        metadata=headers.metadata,
        headers=delivery.headers,
        args=tuple(args),
        kwargs=kwargs,
        subject=delivery.subject,
        consumer=delivery.consumer,
        stored_ns=delivery.timestamp_ns,
    )


Provision = Callable[[list[str]], Awaitable[Any]]


class Consumer:
    """``async for job in app.consume(queue, max_in_flight=8)``: jobs as they come, at most
    ``max_in_flight`` held at once. Close it with ``async with`` (or ``aclose()``); jobs fetched
    but not yet yielded then go back at once.

    Example::

        async with app.consume("emails", max_in_flight=8) as jobs:
            async for job in jobs:
                asyncio.create_task(handle(job))     # each handler settles its job
    """

    def __init__(self, start: Callable[[], Awaitable[PullConsumer]], forget: Callable[[Consumer], None]) -> None:
        self._start = start
        self._forget = forget
        self._consumer: PullConsumer | None = None

    def __aiter__(self) -> Consumer:
        return self

    async def __anext__(self) -> HeldJob:
        if self._consumer is None:
            self._consumer = await self._start()
        job = await self._consumer.get(None)
        assert job is not None  # no timeout: a job, or cancelled
        return job

    async def __aenter__(self) -> Consumer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        consumer, self._consumer = self._consumer, None
        self._forget(self)
        if consumer is not None:
            await consumer.close()


class Pulls:
    """The App's pull API: one demand-driven consumer per queue for ``dequeue``, one per ``consume``.

    Handed the link, the tasks, the queue settings and a way to provision a queue (a puller
    owns its queue's settings as a worker does).
    """

    def __init__(
        self,
        link: Link,
        tasks: Mapping[str, Task[..., Any]],
        queue_config: Callable[[str], QueueConfig],
        provision: Provision,
    ) -> None:
        self._link = link
        self._tasks = tasks
        self._queue_config = queue_config
        self._provision = provision
        self._dequeuers: dict[tuple[str, bool], PullConsumer] = {}
        self._consumers: set[Consumer] = set()
        self._lock = asyncio.Lock()

    async def _new(self, queue: str, capacity: int, heartbeat: bool) -> PullConsumer:
        conn = self._link.connection
        cfg = self._queue_config(queue)
        stats = await transport.queue_stats(conn, queue, with_dead=False)
        if stats is None or len(stats.consumers) < len(cfg.priorities):
            # Nothing to pull from yet: create it as a worker would. An existing queue is left
            # as its workers provisioned it (this app may not know its settings).
            await self._provision([queue])
        status = self._link.status_store
        settler = Settler(status, transport.DeadLetterStore(conn))
        consumer = PullConsumer(
            conn,
            queue,
            cfg,
            tasks=self._tasks,
            settler=settler,
            status=status,
            capacity=capacity,
            heartbeat=heartbeat,
        )
        await consumer.start()
        return consumer

    async def dequeue(self, queue: str, *, timeout_s: float | None, heartbeat: bool = True) -> HeldJob | None:
        async with self._lock:
            consumer = self._dequeuers.get((queue, heartbeat))
            if consumer is None:
                consumer = self._dequeuers[(queue, heartbeat)] = await self._new(queue, 0, heartbeat)
        consumer.want(1)
        job = await consumer.get(timeout_s)
        if job is None:
            consumer.want(-1)
            return None
        settle = job._settle

        async def settle_and_free(outcome: Outcome) -> None:
            try:
                await settle(outcome)
            finally:
                consumer.want(-1)

        job._settle = settle_and_free
        return job

    def consume(self, queue: str, *, max_in_flight: int, heartbeat: bool = True) -> Consumer:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        consumer = Consumer(lambda: self._new(queue, max_in_flight, heartbeat), self._consumers.discard)
        self._consumers.add(consumer)
        return consumer

    async def close(self) -> None:
        """Close every consumer (held jobs that were never settled come back after ack_wait)."""
        dequeuers, self._dequeuers = list(self._dequeuers.values()), {}
        for consumer in dequeuers:
            await consumer.close()
        for each in list(self._consumers):
            await each.aclose()
