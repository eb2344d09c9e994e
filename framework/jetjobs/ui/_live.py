"""Live updates: one Server-Sent Events stream per open page.

Fed by KV watches (new writes to the status bucket, and to the workers bucket on the
workers page: only writes made from now on, never the bucket's contents) and by consumer
info read once per interval. The stream says *that* something changed, at most once per
interval; the page then fetches itself again. The browser closes the stream while the
tab is hidden or the operator pressed pause, so nothing is read for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from .. import transport
from ._base import UIState
from ._queues import queue_rows

MIN_INTERVAL_S = 0.5
MAX_INTERVAL_S = 60.0


def interval_of(request: Request) -> float:
    try:
        value = float(request.query_params.get("interval", "1"))
    except ValueError:
        value = 1.0
    return min(max(value, MIN_INTERVAL_S), MAX_INTERVAL_S)


async def events(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    interval = interval_of(request)
    conn = app.connection
    buckets = [conn.names.status_bucket]
    if request.query_params.get("page") == "workers":
        buckets.append(conn.names.workers_bucket)

    async def digest() -> list[Any]:
        rows = await queue_rows(app, ui.throughput)
        return [(r["queue"], r["backlog"], r["in_flight"], r["dead"], r["paused"]) for r in rows]

    async def stream() -> AsyncIterator[dict[str, str]]:
        changed_keys: list[str] = []
        changed = asyncio.Event()

        async def watch(bucket: str) -> None:
            with contextlib.suppress(Exception):  # e.g. a bucket not created yet: no events from it
                async for entry in transport.watch_new(conn, bucket):
                    if len(changed_keys) < 100:
                        changed_keys.append(entry.key)
                    changed.set()

        watchers = [asyncio.create_task(watch(b), name=f"jetjobs-ui-watch-{b}") for b in buckets]
        try:
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
