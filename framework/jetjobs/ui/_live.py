"""Live updates: one Server-Sent Events stream per open page.

Fed by KV watches (new writes to the status bucket, and to the workers bucket on the
workers page; on the workflow pages, to the runs' ``.meta`` keys or to one run's keys and
its log: only writes made from now on, never the bucket's contents) and by consumer
info read once per interval. The stream says *that* something changed, at most once per
interval; the page then fetches itself again. The browser closes the stream while the
tab is hidden or the operator pressed pause, so nothing is read for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from .. import transport
from .._app import App
from .._wire import now_iso
from ._base import UIState
from ._queues import queue_rows
from ._workflows import RUN_ID_RE

MIN_INTERVAL_S = 0.5
MAX_INTERVAL_S = 60.0
_READY_TIMEOUT_S = 2.0


def interval_of(request: Request) -> float:
    try:
        value = float(request.query_params.get("interval", "1"))
    except ValueError:
        value = 1.0
    return min(max(value, MIN_INTERVAL_S), MAX_INTERVAL_S)


def watches_of(request: Request, app: App) -> list[tuple[str, str]]:
    """The (bucket, key pattern) pairs whose new writes concern the page asking."""
    names = app.connection.names
    page = request.query_params.get("page")
    if page == "workflows":
        return [(names.workflow_runs_bucket, "*.meta")]
    if page == "workflow_run":
        run_id = request.query_params.get("run", "")
        return [(names.workflow_runs_bucket, f"{run_id}.>")] if RUN_ID_RE.fullmatch(run_id) else []
    watches = [(names.status_bucket, ">")]
    if page == "workers":
        watches.append((names.workers_bucket, ">"))
    return watches


async def run_log_changes(app: App, run_id: str, since: str, changed: Callable[[str], None]) -> None:
    """Calls ``changed`` for each record of a run's log written after ``since``: a run's last
    record (``run_<state>``) comes after its last write to the runs bucket."""
    run = await app.workflow_run(run_id)
    async for event in run.logs(follow=True):
        if event.at > since:
            changed(f"log:{event.kind}")


def start_watchers(
    app: App, watches: list[tuple[str, str]], run_id: str, mark: Callable[[str], None]
) -> tuple[list[asyncio.Task[None]], list[asyncio.Event]]:
    """One task per watch calling ``mark(key)`` on each new write, and one following the run's log;
    and an event per watch, set once it is in place (or has failed)."""

    async def watch(bucket: str, pattern: str, ready: asyncio.Event) -> None:
        try:
            async for entry in transport.watch_new(app.connection, bucket, pattern, ready=ready):
                mark(entry.key)
        except Exception:  # e.g. a bucket not created yet: no events from it
            pass
        finally:
            ready.set()

    async def follow_log() -> None:
        with contextlib.suppress(Exception):  # the log is best effort; the runs bucket counts
            await run_log_changes(app, run_id, now_iso(), mark)

    readies = [asyncio.Event() for _ in watches]
    tasks = [
        asyncio.create_task(watch(b, p, r), name=f"jetjobs-ui-watch-{b}")
        for (b, p), r in zip(watches, readies, strict=True)
    ]
    if run_id and watches:
        tasks.append(asyncio.create_task(follow_log(), name=f"jetjobs-ui-log-{run_id}"))
    return tasks, readies


async def events(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    interval = interval_of(request)
    watches = watches_of(request, app)
    workflow_page = request.query_params.get("page") in ("workflows", "workflow_run")
    run_id = request.query_params.get("run", "") if request.query_params.get("page") == "workflow_run" else ""

    async def digest() -> list[Any]:
        if workflow_page:
            return []  # the runs bucket says everything these pages show
        rows = await queue_rows(app, ui.throughput)
        return [(r["queue"], r["backlog"], r["in_flight"], r["dead"], r["paused"]) for r in rows]

    async def stream() -> AsyncIterator[dict[str, str]]:
        changed_keys: list[str] = []
        changed = asyncio.Event()

        def mark(key: str) -> None:
            if len(changed_keys) < 100:
                changed_keys.append(key)
            changed.set()

        watchers, readies = start_watchers(app, watches, run_id, mark)
        try:
            # "hello" only once the watches are in place: a write the page sees after it is not missed.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_READY_TIMEOUT_S):
                    for ready in readies:
                        await ready.wait()
            last = await digest()
            yield {"event": "hello", "data": json.dumps({"interval_s": interval})}
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=interval)
                now = await digest()
                if changed.is_set() or now != last:
                    yield {"event": "change", "data": json.dumps({"keys": changed_keys[:50]})}
                    changed_keys.clear()
                    changed.clear()
                    last = now
                    await asyncio.sleep(interval)  # at most one change event per interval
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    return EventSourceResponse(stream(), ping=15)
