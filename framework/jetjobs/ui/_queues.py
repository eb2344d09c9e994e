"""Queue figures for the overview and queues pages, with a throughput sparkline.

Throughput comes from stored state: a WorkQueue stream's ``last_seq - messages`` is the
number of jobs that have left it, so two readings give jobs per minute without any
counter of our own. Readings are taken when a page or the live stream asks (no
background task), kept for ``_HISTORY_S`` in this process.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from typing import Any

from .. import transport
from .._app import App

_HISTORY_S = 600.0
_MIN_GAP_S = 2.0


class Throughput:
    """Readings of each queue's processed total, and rates derived from them."""

    def __init__(self) -> None:
        self._points: dict[str, deque[tuple[float, int]]] = {}

    def add(self, queue: str, processed: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        points = self._points.setdefault(queue, deque())
        if points and now - points[-1][0] < _MIN_GAP_S:
            return
        points.append((now, processed))
        while points and now - points[0][0] > _HISTORY_S:
            points.popleft()

    def per_minute(self, queue: str, window_s: float = 60.0) -> float | None:
        """Jobs per minute over about the last ``window_s``; None before two readings."""
        points = self._points.get(queue)
        if not points or len(points) < 2:
            return None
        newest = points[-1]
        oldest = next((p for p in points if newest[0] - p[0] <= window_s), points[0])
        if oldest is newest:
            oldest = points[-2]
        span = newest[0] - oldest[0]
        return round((newest[1] - oldest[1]) * 60.0 / span, 1) if span > 0 else None

    def series(self, queue: str) -> list[float]:
        """Jobs per minute between consecutive readings (the sparkline)."""
        points = list(self._points.get(queue, ()))
        return [round((b[1] - a[1]) * 60.0 / (b[0] - a[0]), 1) for a, b in itertools.pairwise(points) if b[0] > a[0]]


def sparkline(values: list[float], width: int = 120, height: int = 24) -> str:
    """SVG polyline points for ``values`` (empty string when there are fewer than two)."""
    if len(values) < 2:
        return ""
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - (v / top) * height:.1f}" for i, v in enumerate(values))


async def queue_rows(app: App, throughput: Throughput) -> list[dict[str, Any]]:
    """One row per queue stream of the namespace: backlog, in flight, dead, paused, throughput."""
    conn = app.connection
    names = await transport.list_queues(conn)
    stats = await asyncio.gather(*(transport.queue_stats(conn, q) for q in names))
    pauses = await asyncio.gather(*(transport.queue_pause_state(conn, q) for q in names))
    rows = []
    for queue, stat, pause in zip(names, stats, pauses, strict=True):
        if stat is None:
            continue  # removed between the listing and the read
        throughput.add(queue, stat.processed)
        series = throughput.series(queue)
        rows.append(
            {
                "queue": queue,
                "stream": stat.stream,
                "messages": stat.messages,
                "backlog": stat.backlog,
                "pending": sum(c.pending for c in stat.consumers),
                "in_flight": stat.in_flight,
                "redelivered": sum(c.redelivered for c in stat.consumers),
                "dead": stat.dead,
                "processed": stat.processed,
                "waiting_pulls": stat.waiting_pulls,
                "max_length": stat.max_length,
                "paused": pause.paused,
                "paused_until": pause.until,
                "per_minute": throughput.per_minute(queue),
                "series": series[-30:],
                "sparkline": sparkline(series[-30:]),
                "consumers": [
                    {
                        "priority": c.priority,
                        "pending": c.pending,
                        "in_flight": c.ack_pending,
                        "redelivered": c.redelivered,
                        "waiting_pulls": c.waiting_pulls,
                    }
                    for c in stat.consumers
                ],
            }
        )
    return rows
