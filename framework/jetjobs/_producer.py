"""Enqueueing: JobRequest -> validated, encoded message -> JetStream -> Job."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from . import transport
from ._catalog import CatalogEntry, check_arguments
from ._first_record import FirstRecord, finish_first_records, may_replace
from ._hooks import is_active
from ._intercept import Outgoing, PublishInterceptor
from ._job import Job, JobBackend
from ._names import Priority, check_priority, check_queue_name, is_valid_job_id
from ._retry import LOST_DELIVERY_SLACK
from ._settings import QueueLookup
from ._status import JobState, StatusRecord
from ._unique import UniqueSpec, call_key
from ._wire import JobHeaders, decode_body, encode_body, parse_iso, to_iso
from .errors import ConfigError, DuplicateJob, InvalidPayload, JetjobsError, PayloadTooLarge, QueueFull, UnknownTask

if TYPE_CHECKING:
    from ._link import Link
    from ._task import JobRequest, Task

_META_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HEADER_OVERHEAD = 64
_HEADER_ROOM = 4096  # more than the headers of a job without metadata can take
DELAYED_KEY = "~delayed"


class CatalogLookup(Protocol):
    """Where a producer finds a task it does not import (``catalog.Catalog`` is one)."""

    async def entry(self, task: str, *, fresh: bool = False) -> CatalogEntry | None: ...


@dataclass(frozen=True, slots=True)
class _Route:
    queue: str
    priority: Priority
    version: str | None
    subject: str
    due_subject: str
    max_deliveries: int

    def queued_record(self, record: StatusRecord, state: JobState, scheduled_for: str | None) -> bytes:
        """The first status record, as ``StatusRecord.encode`` writes it, built without a JSON encoder.

        Job ids are checked to be plain tokens and times are ISO strings, so only
        the task name needs escaping; this runs once per enqueued job.
        """
        extra = f',"scheduled_for":"{scheduled_for}"' if scheduled_for else ""
        return (
            f'{{"id":"{record.id}","state":"{state.value}","task":{json.dumps(record.task)},'
            f'"queue":"{self.queue}","priority":"{self.priority}","attempts":0,'
            f'"enqueued_at":"{record.enqueued_at}","updated_at":"{record.enqueued_at}"{extra}}}'
        ).encode()


def _check_retries(max_retries: int, route: _Route) -> None:
    if max_retries < 0:
        raise InvalidPayload("max_retries must be >= 0")
    allowed = route.max_deliveries - 1 - LOST_DELIVERY_SLACK
    if max_retries + 1 > allowed:
        raise InvalidPayload(
            f"max_retries={max_retries} does not fit queue {route.queue!r}: at most {allowed - 1} "
            "(raise the queue's max_deliveries)"
        )


@dataclass(frozen=True, slots=True)
class _Prepared:
    out: transport.Outbound
    record: StatusRecord
    route: _Route
    scheduled_for: str | None = None  # delayed jobs: when they are due
    reused_id: bool = False  # the caller chose the id: the final record of an earlier run may be stored

    @property
    def stream_key(self) -> str:
        """What must exist before publishing: the queue's stream, or the delayed-jobs stream."""
        return DELAYED_KEY if self.scheduled_for else self.out.queue


class Producer:
    """Builds and publishes job messages for one App.

    It is handed what it uses: the link to NATS (connection, status store, streams
    known to exist), the app's tasks, its queue settings and what the returned
    ``Job`` handles ask.

    Example::

        producer = Producer(link, app.tasks, app.queue_config, results)
        job = await producer.send(JobRequest("send_email", kwargs={"to": "a@example.com"}))
    """

    def __init__(
        self,
        link: Link,
        tasks: Mapping[str, Task[..., Any]],
        queue_config: QueueLookup,
        jobs: JobBackend,
        catalog: CatalogLookup | None = None,
    ) -> None:
        self._link = link
        self._tasks = tasks
        self._queue_config = queue_config
        self._jobs = jobs
        self._catalog = catalog
        self.interceptors: list[PublishInterceptor] = []
        self.routes: dict[tuple[str, str | None, str | int | None, str | None], _Route] = {}
        # Called with each Job the server stored (duplicates included, flagged): for counters.
        self.on_published: list[Callable[[Job], None]] = []
        self._locks: transport.LockStore | None = None
        self._locks_conn: transport.Connection | None = None

    async def send(self, request: JobRequest) -> Job:
        conn = self._link.connection
        entry = await self._entry(request.task, request.options.queue is None)
        now = datetime.now(UTC)
        prepared = self._prepare(request, conn, now, to_iso(now), entry)
        unique = self._unique_spec(request.task)
        if unique is not None:
            return await self._send_unique(prepared, unique, now)
        return await self._publish_prepared(prepared)

    async def _publish_prepared(self, prepared: _Prepared) -> Job:
        # Once per queue and process: a publish to a missing stream is only detected
        # by "no responders", which any core subscriber on the subject would mask.
        await self._create_stream(prepared.stream_key)
        if not self._intercepting():
            published = await self._publish(prepared.out, prepared.stream_key)
        else:
            with self._intercept(prepared.out, prepared.record) as out:
                published = await self._publish(out, prepared.stream_key)
        pending: list[FirstRecord] = []
        job = await self._after_publish(prepared, published, pending)
        await finish_first_records(pending)
        return job

    def _unique_spec(self, task_name: str) -> UniqueSpec | None:
        task = self._tasks.get(task_name)
        spec = task.spec.unique if task is not None else None
        return spec if spec is not None and spec.at_enqueue else None

    async def _send_unique(self, prepared: _Prepared, spec: UniqueSpec, now: datetime) -> Job:
        """Take the job's unique key before publishing: reject, or return the holder, if it is taken."""
        record = prepared.record
        task = self._tasks[record.task]
        args, kwargs = decode_body(prepared.out.body)
        readable, key = call_key(task.name, task.fn, spec, args, kwargs)
        due = parse_iso(prepared.scheduled_for) if prepared.scheduled_for else now
        ttl_s = spec.ttl_s + max(0.0, (due - now).total_seconds())  # a delayed job holds it until it runs
        locks = self._lock_store()
        holder = await locks.acquire(key, record.id, readable, ttl_s)
        if holder is not None:
            if spec.policy == "reject":
                raise DuplicateJob(task.name, readable, holder)
            return Job(self._jobs, holder, task.name, record.queue, duplicate=True, wait_s=1.0)
        try:
            return await self._publish_prepared(prepared)
        except BaseException:
            await locks.release(key, record.id)
            raise

    def _lock_store(self) -> transport.LockStore:
        conn = self._link.connection
        if self._locks is None or self._locks_conn is not conn:
            self._locks, self._locks_conn = transport.LockStore(conn, self._link.settings), conn
        return self._locks

    async def _publish(self, out: transport.Outbound, stream_key: str) -> transport.Published:
        try:
            return await transport.publish(self._link.connection, out)
        except transport.StreamMissing:
            self._link.known_streams.discard(stream_key)
            await self._create_stream(stream_key)
            return await transport.publish(self._link.connection, out)
        except QueueFull as exc:
            raise await self._with_limit(exc) from None

    async def _with_limit(self, error: QueueFull) -> QueueFull:
        """Say the limit: the stream's own max_length, which a producer's settings may not know."""
        if error.max_length is not None:
            return error
        stats = await transport.queue_stats(self._link.connection, error.queue, with_dead=False)
        return QueueFull(error.queue, stats.max_length if stats is not None else None)

    async def send_many(self, requests: Sequence[JobRequest]) -> list[Job]:
        """Publish all, with acknowledgements in flight together; raise the first error after.

        Every job that was stored is still returned through ``JetjobsError.jobs``
        when some fail, so a caller can retry only the rest.
        """
        if any(self._unique_spec(r.task) is not None for r in requests):
            # Unique keys are taken one job at a time, before each publish.
            return [await self.send(r) for r in requests]
        conn = self._link.connection
        unrouted = {r.task for r in requests if r.options.queue is None}
        entries = {name: await self._entry(name, name in unrouted) for name in {r.task for r in requests}}
        now = datetime.now(UTC)  # one enqueue time for the batch
        enqueued_at = to_iso(now)
        prepared = [self._prepare(r, conn, now, enqueued_at, entries[r.task]) for r in requests]
        for key in {p.stream_key for p in prepared}:
            await self._create_stream(key)
        outs = [item.out for item in prepared]
        if self._intercepting():
            outs.clear()
            for item in prepared:
                with self._intercept(item.out, item.record) as out:
                    outs.append(out)
        jobs: list[Job] = []
        pending: list[FirstRecord] = []  # reused ids: their first records, in flight together

        async def on_stored(index: int, published: transport.Published) -> None:
            jobs.append(await self._after_publish(prepared[index], published, pending))

        results = await transport.publish_many(conn, outs, on_stored)
        await finish_first_records(pending)
        first_error = next((r for r in results if isinstance(r, JetjobsError)), None)
        if isinstance(first_error, QueueFull):
            first_error = await self._with_limit(first_error)
        if first_error is not None:
            first_error.jobs = jobs  # type: ignore[attr-defined]
            raise first_error
        return jobs

    async def _entry(self, task: str, unrouted: bool) -> CatalogEntry | None:
        """The catalog entry of a task this app does not register (None for its own tasks).

        Without a queue a miss would fail the call, so it is read again rather than taken from the cache.
        """
        if task in self._tasks or self._catalog is None:
            return None
        return await self._catalog.entry(task, fresh=unrouted)

    def _prepare(
        self,
        request: JobRequest,
        conn: transport.Connection,
        now: datetime,
        enqueued_at: str,
        entry: CatalogEntry | None = None,
    ) -> _Prepared:
        options = request.options
        route = self._route(request.task, options.queue, options.priority, entry, options.version)
        args, kwargs = self._arguments(request, entry)
        job_id = options.job_id or os.urandom(16).hex()
        if options.job_id is not None and not is_valid_job_id(job_id):
            raise InvalidPayload(
                f"invalid job_id {job_id!r}: use letters, digits, '_', '-', '=' and single dots (max 200)"
            )
        if options.timeout_s is not None and not options.timeout_s > 0:
            raise InvalidPayload("timeout_s must be > 0")
        if options.max_retries is not None:
            _check_retries(options.max_retries, route)
        due = due_time(options.delay_s, options.eta, now) if options.delay_s or options.eta else None
        headers = JobHeaders(
            job_id=job_id,
            task=request.task,
            enqueued_at=enqueued_at,
            task_version=route.version,
            timeout_s=options.timeout_s,
            max_retries=options.max_retries,
            metadata=_check_metadata(options.metadata),
            extra=options.headers or {},
        ).to_headers()
        body = self._body(request.task, args, kwargs)
        if len(body) + _HEADER_ROOM > conn.max_payload or options.metadata or options.headers:
            _check_size(request.task, body, headers, conn.max_payload)
        out = transport.Outbound(queue=route.queue, subject=route.subject, body=body, headers=headers)
        if due is not None:
            out = transport.Outbound(
                queue=route.queue,
                subject=conn.names.delayed_at(route.queue, job_id),
                body=body,
                headers=transport.schedule_headers(out, job_id=job_id, at=due, due_subject=route.due_subject),
            )
        record = StatusRecord(job_id, request.task, route.queue, route.priority, enqueued_at)
        return _Prepared(
            out,
            record,
            route,
            scheduled_for=to_iso(due) if due is not None else None,
            reused_id=may_replace(options.job_id, options.headers, due),
        )

    def _route(
        self,
        task_name: str,
        queue: str | None,
        priority: str | int | None,
        entry: CatalogEntry | None = None,
        version: str | None = None,
    ) -> _Route:
        """Where a task's jobs go, checked once per (task, queue, priority, version) and kept.

        A task of another service goes where its catalog entry says, unless ``queue`` is given.
        """
        if entry is not None and (queue is None or queue == entry.queue):
            queue, priority = entry.queue, priority or entry.priority
        key = (task_name, queue, priority, version)
        route = self.routes.get(key)
        if route is None:
            route = self.routes[key] = self._new_route(task_name, queue, priority, version)
        if entry is not None and version is None and route.version != entry.version:
            route = dataclasses.replace(route, version=entry.version)
        return route

    def _new_route(self, task_name: str, queue: str | None, priority: str | int | None, version: str | None) -> _Route:
        if version is not None and (not isinstance(version, str) or not version or "\n" in version):
            raise InvalidPayload(f"version must be a non-empty one-line string, got {version!r}")
        task = self._tasks.get(task_name)
        if task is not None:
            queue = queue or task.spec.queue
            priority = priority if priority is not None else task.spec.priority
            version = version or task.spec.version
        elif queue:
            priority = priority if priority is not None else "normal"
        else:
            raise UnknownTask(
                f"task {task_name!r} is not registered in app {self._link.name!r} and no worker published it "
                "to the catalog; pass queue=... to enqueue a task of another service by name"
            )
        check_queue_name(queue)
        checked = check_priority(priority)
        cfg = self._queue_config(queue)
        if checked not in cfg.priorities:
            mapped = f" ({priority} maps to {checked!r})" if isinstance(priority, int) else ""
            raise ConfigError(f"queue {queue!r} has no {checked!r} priority{mapped}")
        names = self._link.connection.names
        return _Route(
            queue,
            checked,
            version,
            names.subject(queue, checked),
            names.delayed_due(queue, checked),
            cfg.max_deliveries,
        )

    def _arguments(self, request: JobRequest, entry: CatalogEntry | None) -> tuple[list[Any], dict[str, Any]]:
        task = self._tasks.get(request.task)
        if task is None or request.encoded:
            if entry is not None and not request.encoded:
                check_arguments(entry, request.args, request.kwargs)  # nothing is published if they do not fit
            return list(request.args), dict(request.kwargs)
        return task.signature.encode_call(tuple(request.args), request.kwargs)

    def _body(self, task_name: str, args: list[Any], kwargs: dict[str, Any]) -> bytes:
        try:
            return encode_body(args, kwargs)
        except InvalidPayload:
            task = self._tasks.get(task_name)
            if task is None:
                raise
            # The fast check let through a value JSON cannot carry (e.g. a date in a dict):
            # convert the arguments as pydantic does, then encode.
            args, kwargs = task.signature.encode_call(tuple(args), kwargs, fast=False)
            return encode_body(args, kwargs)

    async def republish(self, out: transport.Outbound, record: StatusRecord) -> transport.Published:
        """Publish an already-encoded job (a dead-letter replay) through the interceptors."""
        with self._intercept(out, record) as intercepted:
            return await self._publish(intercepted, out.queue)

    def _intercepting(self) -> bool:
        return any(is_active(i) for i in self.interceptors)

    @contextlib.contextmanager
    def _intercept(self, out: transport.Outbound, rec: StatusRecord) -> Iterator[transport.Outbound]:
        interceptors = [i for i in self.interceptors if is_active(i)]
        if not interceptors:
            yield out
            return
        outgoing = Outgoing(rec.id, rec.task, rec.queue, rec.priority or "normal", out.subject, dict(out.headers))
        with contextlib.ExitStack() as stack:
            for interceptor in interceptors:
                stack.enter_context(interceptor(outgoing))
            yield transport.Outbound(queue=out.queue, subject=out.subject, body=out.body, headers=outgoing.headers)

    async def _after_publish(
        self, prepared: _Prepared, published: transport.Published, pending: list[FirstRecord]
    ) -> Job:
        record = prepared.record
        if not published.duplicate:  # a duplicate never touches the record
            # Create-only: if a fast worker already wrote "running", keep its record.
            state = JobState.SCHEDULED if prepared.scheduled_for else JobState.QUEUED
            data = prepared.route.queued_record(record, state, prepared.scheduled_for)
            if prepared.reused_id:
                # The id may have run before (enqueued again after the dedupe window): the
                # earlier run's final record gives way, and the caller waits for that write.
                done = await self._link.status_store.first_of_run(record.id, data, record.enqueued_at)
                pending.append(FirstRecord(record.id, done))
            else:  # a random id has no earlier run: fire and forget
                await self._link.status_store.create_nowait(record.id, data)
        job = Job(
            self._jobs,
            record.id,
            record.task,
            record.queue,
            duplicate=published.duplicate,
            wait_s=self._link.settings.request_timeout_s,
        )
        for listener in self.on_published:
            listener(job)
        return job

    async def _create_stream(self, key: str) -> None:
        conn = self._link.connection
        if key in self._link.known_streams:
            return
        if key == DELAYED_KEY:
            await transport.ensure_delayed_stream(conn)
        else:
            await transport.ensure_stream_exists(conn, key, self._queue_config(key))
        self._link.known_streams.add(key)


MAX_DELAY_S = 100 * 365.25 * 86400


def due_time(delay_s: float | None, eta: datetime | None, now: datetime) -> datetime | None:
    """When a delayed job is due; None to enqueue at once (no delay, or a time already past)."""
    if delay_s is not None and eta is not None:
        raise InvalidPayload("give delay_s or eta, not both")
    if eta is not None:
        if eta.tzinfo is None:
            raise InvalidPayload("eta needs a time zone, e.g. datetime.now(UTC) + timedelta(minutes=5)")
        return eta.astimezone(UTC) if eta > now else None
    if delay_s is not None:
        if not 0 <= delay_s <= MAX_DELAY_S:
            raise InvalidPayload(f"delay_s must be >= 0 and at most 100 years ({MAX_DELAY_S:.0f}); got {delay_s!r}")
        return now + timedelta(seconds=delay_s) if delay_s > 0 else None
    return None


def _check_size(task: str, body: bytes, headers: dict[str, str], max_payload: int) -> None:
    size = len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items()) + _HEADER_OVERHEAD
    if size > max_payload:
        raise PayloadTooLarge(
            f"job {task} is {size} bytes; the server accepts at most {max_payload} "
            "(pass a reference to large data instead of the data)"
        )


def _check_metadata(metadata: Any) -> dict[str, str]:
    if not metadata:
        return {}
    checked: dict[str, str] = {}
    for key, value in dict(metadata).items():
        if not isinstance(key, str) or not _META_KEY_RE.match(key):
            raise InvalidPayload(f"metadata key {key!r}: use letters, digits, '_' or '-' (max 64)")
        if not isinstance(value, str) or "\r" in value or "\n" in value or len(value) > 1024:
            raise InvalidPayload(f"metadata {key!r}: values must be one-line strings of at most 1024 characters")
        checked[key] = value
    return checked
