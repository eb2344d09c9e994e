"""A handle on an enqueued job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._status import JobInfo, Progress


class JobBackend(Protocol):
    """What a handle asks about its job (``Results`` answers; so does ``App``)."""

    async def status(self, job_id: str, *, wait_s: float = ...) -> JobInfo: ...

    async def result(self, job_id: str, *, timeout_s: float | None = ...) -> Any: ...

    async def cancel(self, job_id: str, *, queue: str | None = ..., wait_s: float = ...) -> bool: ...

    def watch(self, job_id: str, *, timeout_s: float | None = ...) -> AsyncIterator[JobInfo]: ...


class Job:
    """A job that was enqueued (or found by id).

    ``duplicate`` is True when JetStream dropped this enqueue because a job with
    the same id was enqueued within the queue's ``duplicate_window_s``.

    Example::

        job = await app.enqueue("send_email", kwargs={"to": "a@example.com"}, queue="emails")
        print((await job.status()).state)
        value = await job.result(timeout_s=10)
    """

    __slots__ = ("_backend", "_wait_s", "duplicate", "id", "queue", "task")

    def __init__(
        self, backend: JobBackend, job_id: str, task: str, queue: str, *, duplicate: bool = False, wait_s: float = 0.0
    ) -> None:
        self._backend = backend
        # A job this process just enqueued: its first status record may still be on its way.
        self._wait_s = wait_s
        self.id = job_id
        self.task = task
        self.queue = queue
        self.duplicate = duplicate

    def __repr__(self) -> str:
        return f"<Job {self.id} task={self.task} queue={self.queue}>"

    async def result(self, timeout_s: float | None = None) -> Any:
        """Wait for the job to finish and return its result.

        Raises JobFailed (with the remote error type, message and traceback) if it
        failed or died, JobCancelled if cancelled, ResultTimeout after ``timeout_s``.
        """
        return await self._backend.result(self.id, timeout_s=timeout_s)

    async def cancel(self) -> bool:
        """Cancel this job (delayed, queued or running); False if it had already ended. See ``App.cancel``."""
        return await self._backend.cancel(self.id, queue=self.queue or None, wait_s=self._wait_s)

    async def progress(self) -> Progress | None:
        """The progress its task last reported (``current_job().progress``), or None.

        Example::

            p = await job.progress()
            if p is not None:
                print(f"{p.fraction:.0%} {p.message or ''}")
        """
        return (await self.status()).progress

    def watch(self, timeout_s: float | None = None) -> AsyncIterator[JobInfo]:
        """Its status now and at every change (state, progress), ending with the final one.

        Example::

            async for info in job.watch():
                print(info.state, info.progress.fraction if info.progress else "")
        """
        return self._backend.watch(self.id, timeout_s=timeout_s)

    async def status(self) -> JobInfo:
        """The job's current status; raises JobNotFound if none is stored."""
        return await self._backend.status(self.id, wait_s=self._wait_s)
