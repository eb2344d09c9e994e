"""The wire contract: headers and JSON body of a job message (docs/wire-protocol.md).

Everything here is pure: bytes and dicts in, values out. Any NATS client in any
language can produce a job by publishing the same body and headers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._names import is_valid_job_id
from .errors import InvalidPayload

CONTENT_TYPE = "application/json"

H_MSG_ID = "Nats-Msg-Id"
H_CONTENT_TYPE = "Content-Type"
# The server strips Nats-Msg-Id from messages fired by a schedule, so the job id
# travels in a header of our own as well.
H_JOB_ID = "Jetjobs-Job-Id"
H_TASK = "Jetjobs-Task"
H_TASK_VERSION = "Jetjobs-Task-Version"
H_ENQUEUED_AT = "Jetjobs-Enqueued-At"
H_TIMEOUT = "Jetjobs-Timeout-S"
H_MAX_RETRIES = "Jetjobs-Max-Retries"
H_META_PREFIX = "Jetjobs-Meta-"
H_REPLAY_OF = "Jetjobs-Replay-Of"
# A job handed over by a worker without its task version: deliveries of the earlier
# messages of this job (they count as attempts), and how many hand-overs so far.
H_PRIOR_DELIVERIES = "Jetjobs-Prior-Deliveries"
H_HANDOVERS = "Jetjobs-Handovers"
# Workflow steps: the run and step a job belongs to, and its workflow (name/version).
H_WORKFLOW_RUN = "Jetjobs-Workflow-Run"
H_WORKFLOW_STEP = "Jetjobs-Workflow-Step"
H_WORKFLOW = "Jetjobs-Workflow"
# A job's own retry policy (workflow steps), JSON: see docs/wire-protocol.md.
H_RETRY_POLICY = "Jetjobs-Retry-Policy"

# Added to a message when it is dead-lettered.
H_DLQ_REASON = "Jetjobs-Dlq-Reason"
H_DLQ_ERROR_TYPE = "Jetjobs-Dlq-Error-Type"
H_DLQ_ERROR_MESSAGE = "Jetjobs-Dlq-Error-Message"
H_DLQ_TRACEBACK = "Jetjobs-Dlq-Traceback"
H_DLQ_ATTEMPTS = "Jetjobs-Dlq-Attempts"
H_DLQ_FIRST_FAILURE = "Jetjobs-Dlq-First-Failure-At"
H_DLQ_LAST_FAILURE = "Jetjobs-Dlq-Last-Failure-At"
H_DLQ_SUBJECT = "Jetjobs-Dlq-Subject"
H_DLQ_STREAM_SEQ = "Jetjobs-Dlq-Stream-Seq"
DLQ_PREFIX = "Jetjobs-Dlq-"

_MAX_HEADER_VALUE = 1024
_SERVER_HEADERS = ("Nats-",)


def now_iso() -> str:
    """The current UTC time as RFC 3339 with microseconds, e.g. 2026-01-02T03:04:05.123456Z."""
    return to_iso(datetime.now(UTC))


def to_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(value: str) -> datetime:
    """Parse an RFC 3339 timestamp; naive values are taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def header_value(text: str, limit: int = _MAX_HEADER_VALUE) -> str:
    """Make ``text`` safe as one NATS header value: one line, bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def encode_body(args: list[Any] | tuple[Any, ...], kwargs: Mapping[str, Any]) -> bytes:
    """Encode positional and keyword arguments as the JSON job body."""
    try:
        return json.dumps({"args": list(args), "kwargs": dict(kwargs)}, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidPayload(f"job arguments are not JSON-serialisable: {exc}") from None


def decode_body(data: bytes) -> tuple[list[Any], dict[str, Any]]:
    """Decode a job body into (args, kwargs); raise InvalidPayload when it is malformed."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidPayload('body must be a JSON object {"args": [...], "kwargs": {...}}')
    unknown = set(body) - {"args", "kwargs"}
    if unknown:
        raise InvalidPayload(f"body has unknown keys {sorted(unknown)}; only 'args' and 'kwargs' are allowed")
    args = body.get("args", [])
    kwargs = body.get("kwargs", {})
    if not isinstance(args, list):
        raise InvalidPayload("body 'args' must be a JSON array")
    if not isinstance(kwargs, dict):
        raise InvalidPayload("body 'kwargs' must be a JSON object")
    return args, kwargs


@dataclass(frozen=True, slots=True)
class JobHeaders:
    """The job fields carried in NATS headers."""

    job_id: str
    task: str
    enqueued_at: str
    task_version: str | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)
    retry_policy: str | None = None  # raw JSON of H_RETRY_POLICY, read by the executor
    prior_deliveries: int = 0  # H_PRIOR_DELIVERIES: deliveries of the messages it was handed over from
    handovers: int = 0

    def to_headers(self, *, msg_id: str | None = None) -> dict[str, str]:
        headers = {
            H_MSG_ID: msg_id or self.job_id,
            H_JOB_ID: self.job_id,
            H_TASK: self.task,
            H_ENQUEUED_AT: self.enqueued_at,
            H_CONTENT_TYPE: CONTENT_TYPE,
        }
        if self.task_version is not None:
            headers[H_TASK_VERSION] = self.task_version
        if self.timeout_s is not None:
            headers[H_TIMEOUT] = _format_seconds(self.timeout_s)
        if self.max_retries is not None:
            headers[H_MAX_RETRIES] = str(self.max_retries)
        for key, value in self.metadata.items():
            headers[H_META_PREFIX + key] = value
        headers.update(self.extra)
        return headers


def _format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def decode_headers(headers: Mapping[str, str] | None) -> JobHeaders:
    """Read the job fields from message headers; raise InvalidPayload when they are wrong."""
    if not headers:
        raise InvalidPayload(f"message has no headers; {H_JOB_ID} and {H_TASK} are required")
    job_id = headers.get(H_JOB_ID) or headers.get(H_MSG_ID)
    task = headers.get(H_TASK)
    if not job_id:
        raise InvalidPayload(f"header {H_JOB_ID} is missing")
    if not is_valid_job_id(job_id):
        raise InvalidPayload(f"header {H_JOB_ID} {job_id!r} is not a valid job id")
    if not task:
        raise InvalidPayload(f"header {H_TASK} is missing")
    content_type = headers.get(H_CONTENT_TYPE, CONTENT_TYPE)
    if content_type.split(";")[0].strip() != CONTENT_TYPE:
        raise InvalidPayload(f"unsupported {H_CONTENT_TYPE} {content_type!r}; use {CONTENT_TYPE}")
    timeout_s: float | None = None
    if H_TIMEOUT in headers:
        try:
            timeout_s = float(headers[H_TIMEOUT])
        except ValueError:
            raise InvalidPayload(f"header {H_TIMEOUT} must be a number of seconds") from None
        if not timeout_s > 0:
            raise InvalidPayload(f"header {H_TIMEOUT} must be > 0")
    max_retries: int | None = None
    if H_MAX_RETRIES in headers:
        try:
            max_retries = int(headers[H_MAX_RETRIES])
        except ValueError:
            raise InvalidPayload(f"header {H_MAX_RETRIES} must be a whole number") from None
        if max_retries < 0:
            raise InvalidPayload(f"header {H_MAX_RETRIES} must be >= 0")
    metadata = {k[len(H_META_PREFIX) :]: v for k, v in headers.items() if k.startswith(H_META_PREFIX)}
    return JobHeaders(
        job_id=job_id,
        task=task,
        enqueued_at=headers.get(H_ENQUEUED_AT, ""),
        task_version=headers.get(H_TASK_VERSION),
        timeout_s=timeout_s,
        max_retries=max_retries,
        metadata=metadata,
        retry_policy=headers.get(H_RETRY_POLICY),
        prior_deliveries=_count(headers, H_PRIOR_DELIVERIES),
        handovers=_count(headers, H_HANDOVERS),
    )


def _count(headers: Mapping[str, str], name: str) -> int:
    value = headers.get(name)
    if value is None:
        return 0
    try:
        count = int(value)
    except ValueError:
        raise InvalidPayload(f"header {name} must be a whole number") from None
    if count < 0:
        raise InvalidPayload(f"header {name} must be >= 0")
    return count


def replay_headers(dead: Mapping[str, str], *, msg_id: str, replay_of: str) -> dict[str, str]:
    """Headers for re-publishing a dead letter: the original ones, a fresh msg id, a back-reference."""
    headers = {
        k: v
        for k, v in dead.items()
        if not k.startswith(DLQ_PREFIX) and not k.startswith(_SERVER_HEADERS) and k != "Status"
    }
    headers[H_MSG_ID] = msg_id
    headers[H_REPLAY_OF] = replay_of
    return headers
