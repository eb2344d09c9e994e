"""The jobs list (bounded scans of the status bucket) and one job's detail.

The status bucket's key is the job id, with no queue or state in it, so no server-side
filter can pick "failed jobs of queue Q". The list reads the newest records window by
window (``transport.scan_newest``) and stops when a page is full or ``scan_budget``
records were read; the page then offers a cursor to continue further back. A page
therefore costs the same on a bucket of a thousand records or of a million.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .. import transport
from .._app import App
from .._names import is_valid_job_id
from .._status import JobState
from .._wire import H_META_PREFIX, decode_body
from ..errors import InvalidPayload, JobNotFound
from ._config import UIConfig
from ._dead import find_dead_letter

STATES = tuple(s.value for s in JobState)


@dataclass(frozen=True, slots=True)
class JobFilter:
    queue: str = ""
    state: str = ""
    q: str = ""  # a job id, or the start of one
    before: int = 0  # status-stream sequence cursor; 0 = newest

    def matches(self, record: dict[str, Any], key: str) -> bool:
        if self.queue and record.get("queue") != self.queue:
            return False
        if self.state and record.get("state") != self.state:
            return False
        return not self.q or key.startswith(self.q)

    def prefilter(self) -> bytes | None:
        """Bytes every matching record contains (records are compact JSON), to skip parsing others."""
        if self.queue:
            return f'"queue":{json.dumps(self.queue)}'.encode()
        if self.state:
            return f'"state":{json.dumps(self.state)}'.encode()
        return None


def summary(record: dict[str, Any], seq: int) -> dict[str, Any]:
    error = record.get("error") or {}
    return {
        "id": record.get("id"),
        "state": record.get("state"),
        "task": record.get("task"),
        "queue": record.get("queue"),
        "attempts": record.get("attempts", 0),
        "enqueued_at": record.get("enqueued_at"),
        "updated_at": record.get("updated_at"),
        "finished_at": record.get("finished_at"),
        "error": f"{error.get('type', '')}: {error.get('message', '')}" if error else None,
        "seq": seq,
    }


async def list_jobs(app: App, cfg: UIConfig, flt: JobFilter, limit: int) -> dict[str, Any]:
    """A page of status records matching ``flt``, newest first, plus the cursor of the next page."""
    conn = app.connection
    rows: list[dict[str, Any]] = []
    exact = None
    if flt.q and not flt.before and is_valid_job_id(flt.q):
        raw = await app.status_store.get(flt.q)
        if raw is not None:
            exact = summary(json.loads(raw), 0)
    needle = flt.prefilter()
    scanned, before, next_before = 0, flt.before, 0
    while scanned < cfg.scan_budget:
        window = await transport.scan_newest(conn, conn.names.status_bucket, before=before, window=cfg.scan_window)
        scanned += len(window.entries)
        next_before = window.next_before
        for seq, entry in window.entries:
            value = entry.value or b""
            if needle is not None and needle not in value:
                continue
            record = json.loads(value)
            if flt.matches(record, entry.key):
                rows.append(summary(record, seq))
                if len(rows) >= limit:
                    next_before = seq
                    break
        if len(rows) >= limit or not window.next_before:
            break
        before = window.next_before
    return {
        "filter": {"queue": flt.queue, "state": flt.state, "q": flt.q, "before": flt.before},
        "exact": exact,
        "jobs": rows,
        "scanned": scanned,
        "next_before": next_before or None,
        "limit": limit,
    }


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
