"""The backlog gauge: what KEDA or an HPA scales worker replicas on.

``jetjobs_queue_backlog{queue,priority}`` = the consumer's ``num_pending`` +
``num_ack_pending`` (waiting plus running), read from the server every few
seconds, not computed locally: every replica reports the whole queue, so
dashboards should take the max (or one replica's value), not the sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from .. import transport
from . import _metrics

log = logging.getLogger("jetjobs.telemetry")

_REFRESH_S = 5.0


class BacklogMonitor:
    def __init__(self, conn: transport.Connection, queues: Sequence[str], *, refresh_s: float = _REFRESH_S) -> None:
        self._conn = conn
        self._queues = list(queues)
        self._refresh_s = refresh_s
        self._values: dict[tuple[str, ...], float] = {}
        self._task: asyncio.Task[None] | None = None

    def values(self) -> dict[tuple[str, ...], float]:
        return dict(self._values)

    async def start(self) -> None:
        await self.refresh()
        _metrics.backlog.add_source(self.values)
        self._task = asyncio.create_task(self._loop(), name="jetjobs-backlog")

    async def stop(self) -> None:
        _metrics.backlog.remove_source(self.values)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        values: dict[tuple[str, ...], float] = {}
        for queue in self._queues:
            stats = await transport.queue_stats(self._conn, queue, with_dead=False)
            for consumer in stats.consumers if stats else ():
                values[(queue, consumer.priority)] = consumer.backlog
        self._values = values

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # disconnected: keep the last values, try again later
                log.debug("backlog refresh failed: %s", exc)
