"""One job's detail for the web UI: its status record, and its dead letter if it has one."""

from __future__ import annotations

from typing import Any

from .._app import App
from .._job_list import STATES, JobFilter, list_jobs
from .._status import JobState
from .._wire import H_META_PREFIX, decode_body
from ..errors import InvalidPayload, JobNotFound
from ._config import UIConfig
from ._dead import find_dead_letter

__all__ = ["STATES", "JobFilter", "job_detail", "list_jobs", "trace_id_of"]


async def job_detail(app: App, cfg: UIConfig, job_id: str) -> dict[str, Any] | None:
    """Everything known about one job: its status record, and its dead letter if it has one."""
    try:
        info = await app.status(job_id)
    except JobNotFound:
        return None
    record = info.model_dump(mode="json")
    dead = await find_dead_letter(app, info.queue, job_id) if info.state in (JobState.FAILED, JobState.DEAD) else None
    payload = None
    metadata: dict[str, str] = {}
    trace_id = None
    if dead is not None:
        try:
            args, kwargs = decode_body(dead.body)
            payload = cfg.show_payload(info.task, {"args": args, "kwargs": kwargs})
        except InvalidPayload:
            payload = cfg.show_payload(info.task, {"raw": dead.body.decode(errors="replace")})
        metadata = {k[len(H_META_PREFIX) :]: v for k, v in dead.headers.items() if k.startswith(H_META_PREFIX)}
        trace_id = trace_id_of(dead.headers.get("traceparent", ""))
    times = ("enqueued_at", "scheduled_for", "started_at", "first_failure_at", "finished_at", "updated_at")
    timeline = sorted((record[t], t.removesuffix("_at").replace("_", " ")) for t in times if record.get(t))
    return {
        "job": record,
        "payload": payload,
        "payload_known": dead is not None,
        "metadata": metadata,
        "dead_letter": dead.seq if dead is not None else None,
        "timeline": [{"at": at, "event": event} for at, event in timeline],
        "trace_id": trace_id,
        "trace_url": cfg.trace_link(job_id, trace_id),
    }


def trace_id_of(traceparent: str) -> str | None:
    """The trace id of a W3C ``traceparent`` header (``00-<trace id>-<span id>-<flags>``)."""
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
