"""The pull loop's watchdog: a consumer must never be left without a pull request.

A puller waits for the answer to its request (the messages asked for, or a
404/408 status) before it sends another. If an answer is lost — a message the
client could not hand over, a status dropped in a reconnect — the puller would
wait forever while the queue fills, and, with strict priorities, the levels
below it would wait too. A ``no_wait`` request is answered at once unless the
consumer is at ``max_ack_pending`` (then the server parks it until an ack frees
a slot), so a request older than ``STALL_S`` on a consumer with free ack slots
has been lost: the watchdog says so and pulls again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ..transport import Connection, Mode, Puller, consumer_state

log = logging.getLogger("jetjobs.worker")

STALL_S = 5.0


class PullWatchdog:
    def __init__(self, conn: Connection, pullers: Sequence[Puller], *, stall_s: float = STALL_S) -> None:
        self._conn = conn
        self._pullers = pullers
        self.stall_s = stall_s
        self._checked: dict[str, float] = {}
        self.repairs = 0

    async def check(self) -> bool:
        """Repair pullers whose request was lost; True when one was repaired. Asks the server
        about a consumer at most once per ``stall_s``, and only when its request looks stalled."""
        now = time.monotonic()
        repaired = False
        for puller in self._pullers:
            if puller.mode is not Mode.DRAIN or now - puller.last_activity < self.stall_s:
                continue
            if now - self._checked.get(puller.consumer, 0.0) < self.stall_s:
                continue
            self._checked[puller.consumer] = now
            state = await consumer_state(self._conn, puller.stream, puller.consumer)
            if state is None or state.at_ack_limit:
                continue  # a missing consumer is the fetcher's business; a parked request is fine
            if puller.mode is not Mode.DRAIN or time.monotonic() - puller.last_activity < self.stall_s:
                continue  # answered while we asked
            log.warning(
                "pull watchdog: %s/%s has %d jobs waiting and %d of %s ack slots used, but our pull request "
                "of %.0fs ago still expects %d messages: its answer was lost; pulling again",
                puller.stream,
                puller.consumer,
                state.pending,
                state.ack_pending,
                state.max_ack_pending or "unlimited",
                now - puller.last_activity,
                puller.remaining,
            )
            puller.reset()
            self.repairs += 1
            repaired = True
        return repaired
