"""The workload both sides run: names, the job argument and the plain side's message."""

from __future__ import annotations

import json
import uuid
from typing import Any

# jetjobs' names for queue "bench" (jetjobs._names.Names); the plain side uses the
# same stream and subject so both store the same messages in the same kind of stream.
STREAM = "JOBS_bench"
SUBJECT = "jobs.bench.normal"
STREAM_SUBJECTS = ["jobs.bench.high", "jobs.bench.normal", "jobs.bench.low"]
PLAIN_DURABLE = "bench-plain"

# The header names and value sizes of a jetjobs job message. The plain producer
# sends the same set, but only the message id changes per message: the plain side
# is the floor a hand-written nats-py producer reaches, not a jetjobs clone.
_STATIC_HEADERS = {
    "Jetjobs-Task": "noop",
    "Jetjobs-Enqueued-At": "2026-11-22T00:00:00.000000Z",
    "Content-Type": "application/json",
}


def payload(i: int) -> dict[str, Any]:
    """The one small dict argument of every job."""
    return {"i": i, "user": "u123"}


def plain_message(i: int) -> tuple[bytes, dict[str, str]]:
    """Body and headers a plain nats-py producer sends: the bytes of a jetjobs job message."""
    body = json.dumps({"args": [], "kwargs": {"payload": payload(i)}}, separators=(",", ":")).encode()
    job_id = uuid.uuid4().hex
    return body, {"Nats-Msg-Id": job_id, "Jetjobs-Job-Id": job_id, **_STATIC_HEADERS}
