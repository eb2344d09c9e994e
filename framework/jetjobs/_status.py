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
        """One JSON status record; ``result`` is already-encoded JSON.

        Built as text (this runs for every job): the fields are the same, in the same
        order, as ``json.dumps`` of the record would give.
        """
        parts = [
            '{"id":',
            _text(self.id),
            ',"state":"',
            state,
            '","task":',  # (a StrEnum member is its text: no .value lookup)
            _text(self.task),
            ',"queue":',
            _text(self.queue),
            ',"priority":',
            "null" if self.priority is None else _text(self.priority),
            ',"attempts":',
            str(int(attempts)),
            ',"enqueued_at":',
            "null" if self.enqueued_at is None else _text(self.enqueued_at),
            ',"updated_at":',
            _text(updated_at),
        ]
        for key, value in times.items():
            if value is not None:
                parts += (',"', key, '":', _text(value) if type(value) is str else _dumps(value))
        if error is not None:
            parts += (',"error":', _dumps({"type": error.type, "message": error.message, "traceback": error.traceback}))
        if progress is not None:
            parts += (',"progress":', _dumps(progress))
        if result is None:
            parts.append("}")
            return "".join(parts).encode()
        parts.append(',"result":')
        return "".join(parts).encode() + result + b"}"


_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _text(value: str) -> str:
    """A JSON string: as it is for plain printable ASCII (ids, names, times), else escaped."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return _dumps(value)


def decode_status(data: bytes) -> JobInfo:
    return JobInfo.model_validate_json(data)
