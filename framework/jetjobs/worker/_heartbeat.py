"""Keeps held messages alive: ``in_progress`` for every job held longer than an interval.

One loop per queue instead of one timer per job keeps the per-job cost at a
dict insert and delete. ``ack_wait_s`` can then be short (a crashed worker's
jobs come back quickly) while jobs run for hours.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..transport import Delivery

log = logging.getLogger("jetjobs.worker")


class Heartbeat:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._held: dict[Delivery, float] = {}

    def __len__(self) -> int:
        return len(self._held)

    def add(self, delivery: Delivery) -> None:
        self._held[delivery] = time.monotonic()

    def remove(self, delivery: Delivery) -> None:
        self._held.pop(delivery, None)

    async def run(self) -> None:
        """Run until cancelled."""
        # Wake at half the interval so no message waits more than 1.5 intervals,
        # which stays below ack_wait (3 intervals) with room for a slow loop.
        while True:
            await asyncio.sleep(self.interval_s / 2)
            await self.beat()

    async def beat(self) -> None:
        now = time.monotonic()
        for delivery, touched in list(self._held.items()):
            if now - touched < self.interval_s or delivery.settled:
                continue
            try:
                await delivery.in_progress()
                self._held[delivery] = now
            except Exception as exc:  # disconnected: the server will redeliver after ack_wait
                log.debug("heartbeat failed: %s", exc)
