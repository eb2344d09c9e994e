"""Enqueueing: JobRequest -> validated, encoded message -> JetStream -> Job."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import transport
from ._names import check_priority, check_queue_name, is_valid_job_id
from ._status import JobState, StatusRecord
from ._wire import JobHeaders, encode_body, now_iso
from .errors import ConfigError, InvalidPayload, JetjobsError, PayloadTooLarge, UnknownTask

if TYPE_CHECKING:
    from ._app import App
    from ._job import Job
    from ._task import JobRequest

_META_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HEADER_OVERHEAD = 64


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


class Producer:
    """Builds and publishes job messages for one App."""

    def __init__(self, app: App) -> None:
        self._app = app
        self.interceptors: list[PublishInterceptor] = []

    async def send(self, request: JobRequest) -> Job:
        conn = self._app.connection
        prepared = self._prepare(request, conn)
        # Once per queue and process: a publish to a missing stream is only detected
        # by "no responders", which any core subscriber on the subject would mask.
        await self._create_stream(prepared.out.queue)
        with self._intercept(prepared) as out:
            try:
                published = await transport.publish(conn, out)
            except transport.StreamMissing:
                self._app.known_streams.discard(prepared.out.queue)
                await self._create_stream(prepared.out.queue)
                published = await transport.publish(conn, out)
        return await self._after_publish(prepared, published)

    async def send_many(self, requests: Sequence[JobRequest]) -> list[Job]:
        """Publish all, with acknowledgements in flight together; raise the first error after.

        Every job that was stored is still returned through ``JetjobsError.jobs``
        when some fail, so a caller can retry only the rest.
        """
        conn = self._app.connection
        prepared = [self._prepare(r, conn) for r in requests]
        for queue in {p.out.queue for p in prepared}:
            await self._create_stream(queue)
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
        check_priority(priority)
        if priority not in app.queue_config(queue).priorities:
            raise ConfigError(f"queue {queue!r} has no {priority!r} priority")
        job_id = options.job_id or uuid.uuid4().hex
        if not is_valid_job_id(job_id):
            raise InvalidPayload(
                f"invalid job_id {job_id!r}: use letters, digits, '_', '-', '=' and single dots (max 200)"
            )
        if options.delay_s is not None or options.eta is not None:
            raise ConfigError("delayed jobs (delay_s / eta) are not available in this version")
        if options.timeout_s is not None and not options.timeout_s > 0:
            raise InvalidPayload("timeout_s must be > 0")
        enqueued_at = now_iso()
        headers = JobHeaders(
            job_id=job_id,
            task=request.task,
            enqueued_at=enqueued_at,
            task_version=version,
            timeout_s=options.timeout_s,
            metadata=_check_metadata(options.metadata),
        ).to_headers()
        body = encode_body(args, kwargs)
        size = len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items()) + _HEADER_OVERHEAD
        if size > conn.max_payload:
            raise PayloadTooLarge(
                f"job {request.task} is {size} bytes; the server accepts at most {conn.max_payload} "
                "(pass a reference to large data instead of the data)"
            )
        subject = conn.names.subject(queue, priority)
        out = transport.Outbound(queue=queue, subject=subject, body=body, headers=headers)
        record = StatusRecord(id=job_id, task=request.task, queue=queue, priority=priority, enqueued_at=enqueued_at)
        return _Prepared(out=out, record=record)

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
            await self._app.status_store.create_nowait(
                record.id, record.encode(JobState.QUEUED, updated_at=record.enqueued_at or now_iso())
            )
        return Job(self._app, record.id, record.task, record.queue, duplicate=published.duplicate)

    async def _create_stream(self, queue: str) -> None:
        conn = self._app.connection
        if queue in self._app.known_streams:
            return
        await transport.ensure_stream_exists(conn, queue, self._app.queue_config(queue))
        self._app.known_streams.add(queue)


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
