"""Job status records, as stored in the status KV bucket (key = job id).

Writes happen on the worker's per-job path, so records are built with plain
``json`` and the stored result bytes are spliced in, not re-encoded. Reads go
through the ``JobInfo`` model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._outcome import ErrorInfo


class JobState(StrEnum):
    """Where a job is in its life.

    ``failed`` means the task ran and failed for good; ``dead`` means it could not
    be run (malformed, unknown task, or its worker kept dying). Both end in the DLQ.
    """

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.DEAD, JobState.CANCELLED})


class JobError(BaseModel):
    """The error of a failed attempt, as raised in the worker."""

    model_config = ConfigDict(frozen=True)

    type: str
    message: str
    traceback: str = ""


class Progress(BaseModel):
    """How far a running job is, as its task last reported (``current_job().progress``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    fraction: float
    message: str | None = None
    updated_at: str | None = None


class JobInfo(BaseModel):
    """The status of one job, as returned by ``App.status(job_id)``.

    Times are RFC 3339 UTC strings. ``attempts`` counts deliveries so far.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    state: JobState
    task: str
    queue: str
    priority: str | None = None
    attempts: int = 0
    enqueued_at: str | None = None
    scheduled_for: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    first_failure_at: str | None = None
    next_attempt_in_s: float | None = None
    result: Any = None
    error: JobError | None = None
    progress: Progress | None = None
    worker: str | None = None
    waiting: str | None = None


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """The fields of a status record that stay the same across a job's life."""

    id: str
    task: str
    queue: str
    priority: str | None
    enqueued_at: str | None

    def encode(
        self,
        state: JobState,
        *,
        updated_at: str,
        attempts: int = 0,
        result: bytes | None = None,
        error: ErrorInfo | None = None,
        progress: Mapping[str, Any] | None = None,
        **times: str | float | None,
    ) -> bytes:
        """One JSON status record; ``result`` is already-encoded JSON."""
        record: dict[str, Any] = {
            "id": self.id,
            "state": state.value,
            "task": self.task,
            "queue": self.queue,
            "priority": self.priority,
            "attempts": attempts,
            "enqueued_at": self.enqueued_at,
            "updated_at": updated_at,
        }
        record.update((k, v) for k, v in times.items() if v is not None)
        if error is not None:
            record["error"] = {"type": error.type, "message": error.message, "traceback": error.traceback}
        if progress is not None:
            record["progress"] = progress
        encoded = json.dumps(record, separators=(",", ":")).encode()
        if result is None:
            return encoded
        return encoded[:-1] + b',"result":' + result + b"}"


def decode_status(data: bytes) -> JobInfo:
    return JobInfo.model_validate_json(data)
