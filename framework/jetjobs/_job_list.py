"""Listing jobs: bounded scans of the status bucket, newest first (the web UI and ``jetjobs jobs list``).

The status bucket's key is the job id, with no queue or state in it, so no server-side
filter can pick "failed jobs of queue Q". The list reads the newest records window by
window (``transport.scan_newest``) and stops when a page is full, ``budget`` records
were read, or ``time_budget_s`` has passed (checked between windows); the page then
offers a cursor to continue further back. A page therefore costs the same on a bucket
of a thousand records or of a million.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from . import transport
from ._names import is_valid_job_id
from ._status import JobState


class App(Protocol):
    """What listing reads of an App: the connection and the status store."""

    @property
    def connection(self) -> transport.Connection: ...
    @property
    def status_store(self) -> transport.StatusStore: ...


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


SCAN_WINDOW = 1000
SCAN_BUDGET = 3000
TIME_BUDGET_S = 0.12  # a page answers in well under 300 ms even when the server is busy


async def list_jobs(
    app: App,
    flt: JobFilter,
    limit: int,
    *,
    window: int = SCAN_WINDOW,
    budget: int = SCAN_BUDGET,
    time_budget_s: float = TIME_BUDGET_S,
) -> dict[str, Any]:
    """A page of status records matching ``flt``, newest first, plus the cursor of the next page.

    Reads at most ``budget`` records (in windows of ``window``, no new window after
    ``time_budget_s``), whatever the bucket's size.

    Example::

        page = await list_jobs(app, JobFilter(queue="emails", state="failed"), limit=20)
        older = await list_jobs(app, JobFilter(queue="emails", state="failed", before=page["next_before"]), 20)
    """
    conn = app.connection
    rows: list[dict[str, Any]] = []
    exact = None
    if flt.q and not flt.before and is_valid_job_id(flt.q):
        raw = await app.status_store.get(flt.q)
        if raw is not None:
            exact = summary(json.loads(raw), 0)
    needle = flt.prefilter()
    scanned, before, next_before = 0, flt.before, 0
    deadline = time.monotonic() + time_budget_s
    while True:  # the first window always; more while the budgets last
        chunk = await transport.scan_newest(conn, conn.names.status_bucket, before=before, window=window)
        scanned += len(chunk.entries)
        next_before = chunk.next_before
        for seq, entry in chunk.entries:
            value = entry.value or b""
            if needle is not None and needle not in value:
                continue
            record = json.loads(value)
            if flt.matches(record, entry.key):
                rows.append(summary(record, seq))
                if len(rows) >= limit:
                    next_before = seq
                    break
        if len(rows) >= limit or not chunk.next_before or scanned >= budget or time.monotonic() >= deadline:
            break
        before = chunk.next_before
    return {
        "filter": {"queue": flt.queue, "state": flt.state, "q": flt.q, "before": flt.before},
        "exact": exact,
        "jobs": rows,
        "scanned": scanned,
        "next_before": next_before or None,
        "limit": limit,
    }
