"""Stage 1 of the worker: fetch only what the free slots can run, in priority order.

Sources (one per priority, or the advisory consumer of the DLQ mover) are
served strictly in order: while a higher source has a backlog, lower ones wait.
An empty source keeps a one-message "listen" request open, so a new job reaches
an idle worker at once and a high-priority job arriving during a low-priority
backlog is picked up by the next free slot. A worker therefore holds at most
``capacity`` plus one message per source.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence, Set
from dataclasses import dataclass
from typing import Any

from ..transport import Connection, Delivery, Hint, Mode, Puller
from ._heartbeat import Heartbeat
from ._pullwatch import PullWatchdog
from ._ratelimit import Limiter

log = logging.getLogger("jetjobs.worker")

Handler = Callable[[Delivery, str], Awaitable[None]]

_MAX_BATCH = 256
_TICK_S = 1.0
_ERROR_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class Source:
    label: str
    stream: str
    consumer: str


class Fetcher:
    def __init__(
        self,
        conn: Connection,
        sources: Sequence[Source],
        *,
        capacity: int,
        handle: Handler,
        heartbeat_s: float,
        limiter: Limiter | None = None,
        on_missing: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.capacity = capacity
        self._conn = conn
        self._handle = handle
        self._limiter = limiter
        self._on_missing = on_missing
        self._levels = [
            (
                s.label,
                Puller(conn, s.stream, s.consumer, on_delivery=self._delivered(s.label), on_change=self.wake),
            )
            for s in sources
        ]
        self.watchdog = PullWatchdog(conn, [p for _, p in self._levels])
        self._buffers: dict[str, collections.deque[Delivery]] = {s.label: collections.deque() for s in sources}
        self._running: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()
        self.heartbeat = Heartbeat(heartbeat_s)
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._backoff_until = 0.0
        self._loop: asyncio.Task[None] | None = None
        self._beat: asyncio.Task[None] | None = None
        self._token_timer: asyncio.TimerHandle | None = None
        self.bound = False

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        for _, puller in self._levels:
            await puller.start()
        self._conn.on_reconnect(self.reset)
        self._loop = asyncio.create_task(self._pump_loop(), name="jetjobs-fetch")
        self._beat = asyncio.create_task(self.heartbeat.run(), name="jetjobs-heartbeat")
        self.bound = True
        self.wake()

    def reset(self) -> None:
        """Forget requests in flight (the server lost them in a reconnect) and pull again."""
        for _, puller in self._levels:
            puller.reset()
        self.wake()

    async def stop_fetching(self) -> None:
        """No new pull requests; hand back fetched jobs that have not started.

        The pull inboxes are unsubscribed first: the server then drops our waiting
        requests, so a job we nak goes to another replica instead of straight back
        into one of our own open requests (where it would only come back after ack_wait).
        """
        self._stopping = True
        self.wake()
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)
        self.bound = False
        for _, puller in self._levels:
            await puller.stop()
        for buffer in self._buffers.values():
            while buffer:
                self._give_back(buffer.popleft())
        await self.settle_background()

    async def wait_running(self, timeout_s: float) -> bool:
        """Wait for running jobs; True when all finished in time."""
        if not self._running:
            return True
        _, pending = await asyncio.wait(set(self._running), timeout=timeout_s)
        return not pending

    async def cancel_running(self, keep: Set[asyncio.Task[Any]] = frozenset()) -> None:
        """Cancel running jobs (their handlers give the messages back), except those in ``keep``;
        wait for all of them."""
        tasks = set(self._running)
        for task in tasks - keep:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop the heartbeats once every running job has been settled."""
        await self.settle_background()
        if self._beat is not None:
            self._beat.cancel()
            await asyncio.gather(self._beat, return_exceptions=True)

    async def settle_background(self) -> None:
        while self._background:
            await asyncio.gather(*set(self._background), return_exceptions=True)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def buffered(self) -> int:
        return sum(len(b) for b in self._buffers.values())

    # -- deliveries and slots ----------------------------------------------------

    def _delivered(self, label: str) -> Callable[[Delivery], None]:
        def on_delivery(delivery: Delivery) -> None:
            if self._stopping:
                self._give_back(delivery)
                return
            self.heartbeat.add(delivery)
            self._buffers[label].append(delivery)
            self._start_ready()

        return on_delivery

    def _give_back(self, delivery: Delivery, delay_s: float = 0.0) -> None:
        """Nak a job we will not run, so another replica gets it now rather than after ack_wait."""
        self.heartbeat.remove(delivery)
        task = asyncio.create_task(delivery.nak(delay_s))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _start_ready(self) -> None:
        while len(self._running) < self.capacity:
            item = self._take()
            if item is None:
                return
            task = asyncio.create_task(self._run(*item))
            self._running.add(task)

    def _take(self) -> tuple[Delivery, str] | None:
        """The next buffered job that may start now (strict priority order, rate limit), if any."""
        if self._stopping:
            return None
        item = self._next_buffered()
        if item is None:
            return None
        label, delivery = item
        if self._limiter is not None and not self._limiter.take():
            self._buffers[label].appendleft(delivery)
            self._retry_when_token()
            return None
        return delivery, label

    def _retry_when_token(self) -> None:
        if self._token_timer is not None or self._limiter is None:
            return

        def fire() -> None:
            self._token_timer = None
            self._start_ready()
            self.wake()

        self._token_timer = asyncio.get_running_loop().call_later(self._limiter.wait_s(), fire)

    def _next_buffered(self) -> tuple[str, Delivery] | None:
        for label, _ in self._levels:
            buffer = self._buffers[label]
            if buffer:
                return label, buffer.popleft()
        return None

    async def _run(self, delivery: Delivery, label: str) -> None:
        """Handle a job, then the next buffered ones while there are any, in one task (a slot).

        Going on in the same task saves creating and scheduling a task per job. A
        cancelled slot (shutdown) stops at once: what is still buffered was handed back.
        """
        item: tuple[Delivery, str] | None = (delivery, label)
        try:
            while item is not None:
                await self._handle_one(*item)
                item = self._take()
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._running.discard(task)
            self._start_ready()
            self.wake()

    async def _handle_one(self, delivery: Delivery, label: str) -> None:
        try:
            await self._handle(delivery, label)
        except Exception:  # a bug must not leave the message unsettled until ack_wait
            log.exception(
                "handling message %d of %s failed; redelivery in %gs",
                delivery.stream_seq,
                delivery.stream,
                _ERROR_RETRY_S,
            )
            if not delivery.settled:
                self._give_back(delivery, _ERROR_RETRY_S)
        finally:
            self.heartbeat.remove(delivery)

    # -- pulling -------------------------------------------------------------------

    def wake(self) -> None:
        self._wakeup.set()

    async def _pump_loop(self) -> None:
        while not self._stopping:
            try:
                async with asyncio.timeout(_TICK_S):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
            self._wakeup.clear()
            if self._stopping:
                return
            try:
                await self._pump()
            except Exception as exc:
                self._back_off(f"pull failed: {exc}")

    async def _pump(self) -> None:
        now = time.monotonic()
        if now < self._backoff_until or not self._conn.connected:
            return
        for _, puller in self._levels:
            if puller.is_stale(now):
                puller.reset()
        try:
            await self.watchdog.check()
        except Exception as exc:  # the server did not answer: the next tick asks again
            log.debug("pull watchdog could not read consumer state: %s", exc)
        free = self.capacity - len(self._running) - self.buffered
        free -= sum(p.remaining for _, p in self._levels if p.mode is Mode.DRAIN)
        if self._limiter is not None:
            tokens = self._limiter.available() - self.buffered
            if tokens <= 0 < free:
                self._retry_when_token()  # pull again as soon as the rate limit allows a start
            free = min(free, tokens)
        for _, puller in self._levels:
            if puller.error is not None:
                await self._recover(puller)
                return
            if puller.hint is Hint.EMPTY:
                if puller.mode is Mode.IDLE:
                    await puller.listen()
                continue
            if puller.mode is Mode.IDLE and free > 0:
                batch = min(free, _MAX_BATCH)
                await puller.drain(batch)
                free -= batch
            break  # this source may have a backlog: lower ones wait (strict priority)

    async def _recover(self, puller: Puller) -> None:
        error = puller.error or ""
        puller.error = None
        self._back_off(f"{puller.stream}/{puller.consumer}: {error}")
        missing = error.startswith("503") or "Consumer Deleted" in error or "Not Found" in error
        if missing and self._on_missing is not None:
            await self._on_missing()

    def _back_off(self, reason: str) -> None:
        delay = 0.5 + random.random()
        log.warning("%s; pulling again in %.1fs", reason, delay)
        self._backoff_until = time.monotonic() + delay
