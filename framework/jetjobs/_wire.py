"""The wire contract: headers and JSON body of a job message (docs/wire-protocol.md).

Everything here is pure: bytes and dicts in, values out. Any NATS client in any
language can produce a job by publishing the same body and headers.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
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
# Added when a dead letter had to be made smaller than the server's max_payload.
H_DLQ_BODY_TRUNCATED = "Jetjobs-Dlq-Body-Truncated"
H_DLQ_BODY_SIZE = "Jetjobs-Dlq-Body-Size"
H_DLQ_BODY_SHA256 = "Jetjobs-Dlq-Body-Sha256"
H_DLQ_HEADERS_CUT = "Jetjobs-Dlq-Headers-Cut"
H_DLQ_HEADERS_DROPPED = "Jetjobs-Dlq-Headers-Dropped"
DLQ_PREFIX = "Jetjobs-Dlq-"

DLQ_BODY_PREVIEW = 4096  # bytes of a too-large body kept in its dead letter
DLQ_HEADER_VALUE_MAX = 4096  # characters of one original header value kept in a dead letter
DLQ_HEADERS_MAX = 32 * 1024  # bytes of header block a dead letter may carry
_DLQ_RESERVE = 1024  # room for the msg id header the store adds, and rounding
_DLQ_ESSENTIAL = ("Jetjobs-Job-Id", "Jetjobs-Task", "Jetjobs-Enqueued-At", "Content-Type", "traceparent")
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

_MAX_HEADER_VALUE = 1024
_SERVER_HEADERS = ("Nats-",)


_second: tuple[int, str] = (-1, "")  # the last whole second formatted (now_iso runs per job)


def now_iso() -> str:
    """The current UTC time as RFC 3339 with microseconds, e.g. 2026-01-02T03:04:05.123456Z."""
    global _second
    seconds, fraction = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _second  # one read: another thread may replace it (a tuple, so never half-written)
    if cached[0] != seconds:
        cached = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{fraction:06d}Z"


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
    except RecursionError:
        raise InvalidPayload("job arguments are nested too deeply to encode as JSON") from None
    except ValueError as exc:
        if "digits" in str(exc):  # sys.get_int_max_str_digits(): workers could not decode it either
            raise InvalidPayload(
                f"job arguments hold an integer too long for JSON ({exc}); pass it as a string"
            ) from None
        raise InvalidPayload(f"job arguments are not JSON-serialisable: {exc}") from None
    except TypeError as exc:
        raise InvalidPayload(f"job arguments are not JSON-serialisable: {exc}") from None


def decode_body(data: bytes) -> tuple[list[Any], dict[str, Any]]:
    """Decode a job body into (args, kwargs); raise InvalidPayload when it is malformed.

    The body is UTF-8 JSON (no BOM): other encodings that ``json.loads`` would
    guess from the bytes (UTF-16, UTF-32) are refused, as are nesting too deep for
    the decoder and integers longer than Python converts (``sys.int_info``).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPayload(f"body is not UTF-8 ({exc.reason} at byte {exc.start}); bodies are UTF-8 JSON") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidPayload("body is nested too deeply to decode") from None
    except ValueError as exc:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
        raise InvalidPayload(f"body cannot be decoded: {exc}") from None
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


@dataclass(slots=True)
class JobHeaders:
    """The job fields carried in NATS headers (read-only by convention: built for every
    message, and a frozen dataclass costs a generic ``__setattr__`` call per field)."""

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
    if content_type != CONTENT_TYPE and content_type.split(";")[0].strip() != CONTENT_TYPE:
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


def copyable_headers(original: Mapping[str, str]) -> dict[str, str]:
    """The headers of a received message that may be sent on with a copy (a dead letter, a due delayed job).

    Left out: ``Nats-*`` (the server acts on them: an ``Nats-Expected-*`` header
    that held for the original would refuse the copy), ``Status``/``Description``
    (clients read them as a status reply on a direct get), ``Jetjobs-Dlq-*`` (set
    afresh) and names that are not one header token (they cannot be sent).
    """
    return {
        k: v
        for k, v in original.items()
        if isinstance(k, str)
        and isinstance(v, str)
        and _TOKEN_RE.fullmatch(k)
        and not k.lower().startswith(("nats-", DLQ_PREFIX.lower()))
        and k.lower() not in ("status", "description")
    }


def header_block_size(headers: Mapping[str, str]) -> int:
    """Bytes of the NATS header block for ``headers`` (``NATS/1.0``, one line each, a blank line)."""
    return 12 + sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items())


def fit_dead_letter(headers: Mapping[str, str], body: bytes, max_payload: int) -> tuple[dict[str, str], bytes]:
    """Bound a dead letter's headers and make it fit ``max_payload`` (docs/wire-protocol.md).

    Original header values over ``DLQ_HEADER_VALUE_MAX`` characters are cut
    (``Jetjobs-Dlq-Headers-Cut`` counts them); if the block is still over
    ``DLQ_HEADERS_MAX``, the largest non-essential originals are dropped (named
    in ``Jetjobs-Dlq-Headers-Dropped``). A body that still does not fit is
    replaced by its first ``DLQ_BODY_PREVIEW`` bytes, with its original size and
    SHA-256 in headers.

    >>> h, b = fit_dead_letter({"Jetjobs-Task": "t"}, b"x" * 2_000_000, 1_048_576)
    >>> h["Jetjobs-Dlq-Body-Truncated"], h["Jetjobs-Dlq-Body-Size"], len(b)
    ('true', '2000000', 4096)
    """
    out: dict[str, str] = {}
    cut = 0
    for key, value in headers.items():
        if len(value) > DLQ_HEADER_VALUE_MAX and not key.startswith(DLQ_PREFIX):
            value, cut = value[: DLQ_HEADER_VALUE_MAX - 1] + "…", cut + 1
        out[key] = value
    if cut:
        out[H_DLQ_HEADERS_CUT] = str(cut)
    headers_max = min(DLQ_HEADERS_MAX, max_payload // 4)
    dropped: list[str] = []
    droppable = sorted(
        (k for k in out if not k.startswith(DLQ_PREFIX) and k not in _DLQ_ESSENTIAL),
        key=lambda k: len(out[k]),
        reverse=True,
    )
    while header_block_size(out) > headers_max and droppable:
        name = droppable.pop(0)
        del out[name]
        dropped.append(name)
        out[H_DLQ_HEADERS_DROPPED] = header_value(" ".join(dropped), 512)
    if header_block_size(out) + len(body) > max_payload - _DLQ_RESERVE:
        out[H_DLQ_BODY_TRUNCATED] = "true"
        out[H_DLQ_BODY_SIZE] = str(len(body))
        out[H_DLQ_BODY_SHA256] = hashlib.sha256(body).hexdigest()
        room = max_payload - _DLQ_RESERVE - header_block_size(out)
        body = body[: max(0, min(DLQ_BODY_PREVIEW, room))]
    return out, body
