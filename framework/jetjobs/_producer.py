"""Enqueueing: JobRequest -> validated, encoded message -> JetStream -> Job."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import transport
from ._names import Priority, check_priority, check_queue_name, is_valid_job_id
from ._retry import LOST_DELIVERY_SLACK
from ._status import JobState, StatusRecord
from ._wire import H_DUE_AT, JobHeaders, encode_body, now_iso, to_iso
from .errors import ConfigError, InvalidPayload, JetjobsError, PayloadTooLarge, UnknownTask

if TYPE_CHECKING:
    from ._app import App
    from ._job import Job
    from ._task import JobRequest

_META_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HEADER_OVERHEAD = 64
DELAYED_KEY = "~delayed"


@dataclass(slots=True)
class Outgoing:
    """A job about to be published; interceptors (tracing) may add headers."""

    job_id: str
    task: str
    queue: str
    priority: str
    subject: str
    headers: dict[str, str]


PublishInterceptor = Callable[[Outgoing], contextlib.AbstractContextManager[Any]]


@dataclass(frozen=True, slots=True)
class _Prepared:
    out: transport.Outbound
    record: StatusRecord
    scheduled_for: str | None = None  # delayed jobs: when they are due

    @property
    def stream_key(self) -> str:
        """What must exist before publishing: the queue's stream, or the delayed-jobs stream."""
        return DELAYED_KEY if self.scheduled_for else self.out.queue


class Producer:
    """Builds and publishes job messages for one App."""

    def __init__(self, app: App) -> None:
        self._app = app
        self.interceptors: list[PublishInterceptor] = []
        # Called with each Job the server stored (duplicates included, flagged): for counters.
        self.on_published: list[Callable[[Job], None]] = []

    async def send(self, request: JobRequest) -> Job:
        conn = self._app.connection
        prepared = self._prepare(request, conn)
        # Once per queue and process: a publish to a missing stream is only detected
        # by "no responders", which any core subscriber on the subject would mask.
        await self._create_stream(prepared.stream_key)
        with self._intercept(prepared) as out:
            try:
                published = await transport.publish(conn, out)
            except transport.StreamMissing:
                self._app.known_streams.discard(prepared.stream_key)
                await self._create_stream(prepared.stream_key)
                published = await transport.publish(conn, out)
        return await self._after_publish(prepared, published)

    async def send_many(self, requests: Sequence[JobRequest]) -> list[Job]:
        """Publish all, with acknowledgements in flight together; raise the first error after.

        Every job that was stored is still returned through ``JetjobsError.jobs``
        when some fail, so a caller can retry only the rest.
        """
        conn = self._app.connection
        prepared = [self._prepare(r, conn) for r in requests]
        for key in {p.stream_key for p in prepared}:
            await self._create_stream(key)
        outs = []
        for item in prepared:
            with self._intercept(item) as out:
                outs.append(out)
        results = await transport.publish_many(conn, outs)
        jobs: list[Job] = []
        first_error: JetjobsError | None = None
        for item, result in zip(prepared, results, strict=True):
            if isinstance(result, JetjobsError):
                first_error = first_error or result
                continue
            jobs.append(await self._after_publish(item, result))
        if first_error is not None:
            first_error.jobs = jobs  # type: ignore[attr-defined]
            raise first_error
        return jobs

    def _prepare(self, request: JobRequest, conn: transport.Connection) -> _Prepared:
        options = request.options
        queue, priority, version, args, kwargs = self._route(request)
        job_id = options.job_id or uuid.uuid4().hex
        if not is_valid_job_id(job_id):
            raise InvalidPayload(
                f"invalid job_id {job_id!r}: use letters, digits, '_', '-', '=' and single dots (max 200)"
            )
        if options.timeout_s is not None and not options.timeout_s > 0:
            raise InvalidPayload("timeout_s must be > 0")
        if options.max_retries is not None:
            if options.max_retries < 0:
                raise InvalidPayload("max_retries must be >= 0")
            allowed = self._app.queue_config(queue).max_deliveries - 1 - LOST_DELIVERY_SLACK
            if options.max_retries + 1 > allowed:
                raise InvalidPayload(
                    f"max_retries={options.max_retries} does not fit queue {queue!r}: at most {allowed - 1} "
                    "(raise the queue's max_deliveries)"
                )
        now = datetime.now(UTC)
        due = due_time(options.delay_s, options.eta, now)
        enqueued_at = to_iso(now)
        headers = JobHeaders(
            job_id=job_id,
            task=request.task,
            enqueued_at=enqueued_at,
            task_version=version,
            timeout_s=options.timeout_s,
            max_retries=options.max_retries,
            metadata=_check_metadata(options.metadata),
        ).to_headers()
        body = encode_body(args, kwargs)
        size = len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items()) + _HEADER_OVERHEAD
        if size > conn.max_payload:
            raise PayloadTooLarge(
                f"job {request.task} is {size} bytes; the server accepts at most {conn.max_payload} "
                "(pass a reference to large data instead of the data)"
            )
        out = transport.Outbound(queue=queue, subject=conn.names.subject(queue, priority), body=body, headers=headers)
        if due is not None:
            headers[H_DUE_AT] = to_iso(due)  # queue-wait metrics count from here, not from the enqueue
            out = transport.Outbound(
                queue=queue,
                subject=conn.names.delayed_at(queue, job_id),
                body=body,
                headers=transport.schedule_headers(
                    out, job_id=job_id, at=due, due_subject=conn.names.delayed_due(queue, priority)
                ),
            )
        record = StatusRecord(id=job_id, task=request.task, queue=queue, priority=priority, enqueued_at=enqueued_at)
        return _Prepared(out=out, record=record, scheduled_for=to_iso(due) if due is not None else None)

    def _route(self, request: JobRequest) -> tuple[str, Priority, str | None, list[Any], dict[str, Any]]:
        """Queue, priority, version and JSON-ready arguments of a request."""
        app = self._app
        options = request.options
        task = app.tasks.get(request.task)
        if task is not None:
            queue = options.queue or task.spec.queue
            priority = options.priority or task.spec.priority
            version = task.spec.version
            if request.encoded:
                args, kwargs = list(request.args), dict(request.kwargs)
            else:
                args, kwargs = task.signature.encode_call(tuple(request.args), request.kwargs)
        elif options.queue:
            queue, priority, version = options.queue, options.priority or "normal", None
            args, kwargs = list(request.args), dict(request.kwargs)
        else:
            raise UnknownTask(
                f"task {request.task!r} is not registered in app {app.name!r}; "
                "pass queue=... to enqueue a task of another service by name"
            )
        check_queue_name(queue)
        checked = check_priority(priority)
        if checked not in app.queue_config(queue).priorities:
            raise ConfigError(f"queue {queue!r} has no {priority!r} priority")
        return queue, checked, version, args, kwargs

    async def republish(self, out: transport.Outbound, record: StatusRecord) -> transport.Published:
        """Publish an already-encoded job (a dead-letter replay) through the interceptors."""
        with self._intercept(_Prepared(out=out, record=record)) as intercepted:
            try:
                return await transport.publish(self._app.connection, intercepted)
            except transport.StreamMissing:
                self._app.known_streams.discard(out.queue)
                await self._create_stream(out.queue)
                return await transport.publish(self._app.connection, intercepted)

    @contextlib.contextmanager
    def _intercept(self, prepared: _Prepared) -> Iterator[transport.Outbound]:
        out = prepared.out
        if not self.interceptors:
            yield out
            return
        rec = prepared.record
        outgoing = Outgoing(rec.id, rec.task, rec.queue, rec.priority or "normal", out.subject, dict(out.headers))
        with contextlib.ExitStack() as stack:
            for interceptor in self.interceptors:
                stack.enter_context(interceptor(outgoing))
            yield transport.Outbound(queue=out.queue, subject=out.subject, body=out.body, headers=outgoing.headers)

    async def _after_publish(self, prepared: _Prepared, published: transport.Published) -> Job:
        from ._job import Job

        record = prepared.record
        if not published.duplicate:
            # Create-only: if a fast worker already wrote "running", keep its record.
            state = JobState.SCHEDULED if prepared.scheduled_for else JobState.QUEUED
            data = record.encode(
                state, updated_at=record.enqueued_at or now_iso(), scheduled_for=prepared.scheduled_for
            )
            await self._app.status_store.create_nowait(record.id, data)
        job = Job(self._app, record.id, record.task, record.queue, duplicate=published.duplicate, fresh=True)
        for listener in self.on_published:
            listener(job)
        return job

    async def _create_stream(self, key: str) -> None:
        conn = self._app.connection
        if key in self._app.known_streams:
            return
        if key == DELAYED_KEY:
            await transport.ensure_delayed_stream(conn)
        else:
            await transport.ensure_stream_exists(conn, key, self._app.queue_config(key))
        self._app.known_streams.add(key)


def due_time(delay_s: float | None, eta: datetime | None, now: datetime) -> datetime | None:
    """When a delayed job is due; None to enqueue at once (no delay, or a time already past)."""
    if delay_s is not None and eta is not None:
        raise InvalidPayload("give delay_s or eta, not both")
    if eta is not None:
        if eta.tzinfo is None:
            raise InvalidPayload("eta needs a time zone, e.g. datetime.now(UTC) + timedelta(minutes=5)")
        return eta.astimezone(UTC) if eta > now else None
    if delay_s is not None:
        if not delay_s >= 0:
            raise InvalidPayload("delay_s must be >= 0")
        return now + timedelta(seconds=delay_s) if delay_s > 0 else None
    return None


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
