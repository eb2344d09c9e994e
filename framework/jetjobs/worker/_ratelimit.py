"""Start rate limits: ``rate`` jobs per second with bursts of up to ``burst``.

``TokenBucket`` limits one replica; ``SharedBucket`` limits the queue across all replicas
with a counter per time window on the server (the default, ``rate_scope="queue"``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger("jetjobs.worker")


class TokenBucket:
    """Per-replica start rate limit (JetStream has no rate limit for pull consumers).

    >>> bucket = TokenBucket(rate=2, burst=1, clock=lambda: 0.0)
    >>> bucket.take(), bucket.take()
    (True, False)
    """

    def __init__(self, rate: float, burst: int | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, int(rate)))
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def available(self) -> int:
        """Whole tokens available now."""
        self._refill()
        return int(self._tokens)

    def take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until the next token."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate


class Limiter(Protocol):
    """What the fetcher asks a rate limit (``TokenBucket`` per replica, ``SharedBucket`` per queue)."""

    def available(self) -> int: ...
    def take(self) -> bool: ...
    def wait_s(self) -> float: ...


# (window number, tokens wanted) -> the window's total after adding them (a server-side counter).
Count = Callable[[int, int], Awaitable[int]]

MIN_WINDOW_S = 0.05  # at most 20 counter round trips per replica and second
_POLL_S = 0.005  # while a count is in flight


class SharedBucket:
    """A queue's start rate across every replica, counted on the server.

    Time is cut into windows of ``burst / rate`` seconds (at least ``MIN_WINDOW_S``); each
    window admits ``rate * window`` starts (``burst`` when the window is ``burst / rate``) in
    the whole cluster. A replica that needs tokens adds what it wants to the window's
    counter and keeps the part that was still under the cap; tokens die with their window,
    so a replica that stops (or joins) changes nothing for the others past one window.
    Replicas number windows from their own clocks: keep them in sync (NTP); a skew of
    ``d`` seconds lets up to two windows' caps start within ``d`` around a boundary.

    Example::

        bucket = SharedBucket(100, 10, count=lambda w, n: transport.increment(conn, f"rate.q.{w}", n), want=16)
        if bucket.take(): ...   # else: try again after bucket.wait_s()
    """

    def __init__(
        self,
        rate: float,
        burst: int | None,
        *,
        count: Count,
        want: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        burst = burst if burst is not None else max(1, int(rate))
        self.window_s = max(burst / rate, MIN_WINDOW_S)
        self.per_window = max(1, round(rate * self.window_s))
        self._count = count
        self._want = max(1, min(want, self.per_window))
        self._clock = clock
        self._window = -1
        self._tokens = 0
        self._exhausted = False
        self._pending: asyncio.Task[None] | None = None

    def _roll(self) -> int:
        window = int(self._clock() // self.window_s)
        if window != self._window:
            self._window, self._tokens, self._exhausted = window, 0, False
        return window

    def available(self) -> int:
        self._roll()
        if self._tokens == 0:
            self._ask()
        return self._tokens

    def take(self) -> bool:
        self._roll()
        if self._tokens > 0:
            self._tokens -= 1
            return True
        self._ask()
        return False

    def wait_s(self) -> float:
        self._roll()
        if self._tokens > 0:
            return 0.0
        if self._pending is not None:
            return _POLL_S
        return (self._window + 1) * self.window_s - self._clock() + 0.001  # the next window

    def _ask(self) -> None:
        if self._pending is not None or self._exhausted:
            return
        self._pending = asyncio.get_running_loop().create_task(self._acquire(self._window))

    async def _acquire(self, window: int) -> None:
        want = self._want
        try:
            total = await self._count(window, want)
        except Exception as exc:  # the server is away: start nothing this window, ask again in the next
            log.debug("rate counter failed: %s", exc)
            total = None
        finally:
            self._pending = None
        if window != self._window:
            return  # answered after its window ended: its tokens are void
        granted = 0 if total is None else max(0, min(want, self.per_window - (total - want)))
        self._tokens += granted
        if granted < want:
            self._exhausted = True  # the cluster used this window up: wait for the next
