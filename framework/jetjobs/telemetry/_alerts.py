"""Queue alerts evaluated by the workers: backlog and error-rate thresholds per queue.

Each worker evaluates the queues it serves every ``alert_interval_s``: the backlog
(``num_pending + num_ack_pending``, read from the server: the same for every replica) and the
error rate of the attempts *this* process ran over ``alert_window_s``. Entering or leaving an
alert sets ``jetjobs_alert_active{queue,alert}``, logs one line and calls the app's alert
handlers (a failing handler is logged, never raised).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .. import transport
from .._settings import QueueConfig
from .._wire import now_iso
from . import _metrics

log = logging.getLogger("jetjobs.alerts")

AlertKind = Literal["backlog", "error_rate"]
MIN_ATTEMPTS = 10  # an error rate over fewer attempts says little: below this there is no alert
_ERRORS = ("retried", "failed", "dead")


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert that started (``active``) or ended, with the value that crossed ``threshold``.

    Example::

        @app.on_alert
        async def page(event: AlertEvent) -> None:
            if event.active:
                await pager.send(f"{event.queue}: {event.alert} {event.value:g} > {event.threshold:g}")
    """

    queue: str
    alert: AlertKind
    active: bool
    value: float
    threshold: float
    at: str


AlertHandler = Callable[[AlertEvent], Awaitable[None] | None]


def crossed(active: bool, value: float | None, threshold: float) -> bool:
    """The alert's next state: on above the threshold, off at or below it (or without data).

    >>> crossed(False, 1200, 1000), crossed(True, 1000, 1000), crossed(True, None, 0.1)
    (True, False, False)
    """
    return value is not None and value > threshold


class ErrorRates:
    """Failed attempts / attempts per queue over a sliding window, from the process's job counter."""

    def __init__(self, window_s: Mapping[str, float], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = dict(window_s)
        self._clock = clock
        self._samples: dict[str, collections.deque[tuple[float, float, float]]] = {
            q: collections.deque() for q in window_s
        }

    def sample(self, counts: Mapping[tuple[str, ...], float]) -> dict[str, float | None]:
        """Record the counter now; return each queue's error rate (None below MIN_ATTEMPTS)."""
        now = self._clock()
        totals: dict[str, list[float]] = {q: [0.0, 0.0] for q in self._samples}
        for (_, queue, outcome), value in counts.items():
            if queue in totals:
                totals[queue][0] += value
                totals[queue][1] += value if outcome in _ERRORS else 0.0
        rates: dict[str, float | None] = {}
        for queue, samples in self._samples.items():
            attempts, errors = totals[queue]
            samples.append((now, attempts, errors))
            while len(samples) > 1 and now - samples[1][0] >= self._window_s[queue]:
                samples.popleft()  # keep one sample at or before the window's start
            _, first_attempts, first_errors = samples[0]
            ran = attempts - first_attempts
            rates[queue] = (errors - first_errors) / ran if ran >= MIN_ATTEMPTS else None
        return rates


Backlog = Callable[[str], Awaitable[float | None]]


class AlertMonitor:
    """Evaluates the alerts of ``queues`` every ``interval_s`` until stopped.

    Example::

        monitor = AlertMonitor({"emails": app.queue_config("emails")}, backlog, handlers=app.alert_handlers)
        await monitor.start()
    """

    def __init__(
        self,
        queues: Mapping[str, QueueConfig],
        backlog: Backlog,
        *,
        handlers: Sequence[AlertHandler] = (),
        interval_s: float = 5.0,
        counts: Callable[[], Mapping[tuple[str, ...], float]] = lambda: dict(_metrics.jobs.values),
    ) -> None:
        self._queues = {q: c for q, c in queues.items() if c.alert_backlog or c.alert_error_rate}
        self._backlog = backlog
        self._handlers = list(handlers)
        self._interval_s = interval_s
        self._counts = counts
        self._rates = ErrorRates({q: c.alert_window_s for q, c in self._queues.items() if c.alert_error_rate})
        self.active: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None

    def gauge(self) -> dict[tuple[str, ...], float]:
        return {(q, kind): 1.0 if (q, kind) in self.active else 0.0 for q, kind in self._watched()}

    def _watched(self) -> list[tuple[str, AlertKind]]:
        watched: list[tuple[str, AlertKind]] = []
        for queue, cfg in self._queues.items():
            if cfg.alert_backlog:
                watched.append((queue, "backlog"))
            if cfg.alert_error_rate:
                watched.append((queue, "error_rate"))
        return watched

    async def start(self) -> None:
        if not self._queues:
            return
        _metrics.alert_active.add_source(self.gauge)
        self._task = asyncio.create_task(self._loop(), name="jetjobs-alerts")

    async def stop(self) -> None:
        _metrics.alert_active.remove_source(self.gauge)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.evaluate()
            except Exception as exc:  # disconnected: keep the states, evaluate again later
                log.debug("alert evaluation failed: %s", exc)
            await asyncio.sleep(self._interval_s)

    async def evaluate(self) -> list[AlertEvent]:
        """One round: read the values, change states, log and call handlers for each change."""
        rates = self._rates.sample(self._counts())
        events = []
        for queue, kind in self._watched():
            cfg = self._queues[queue]
            if kind == "backlog":
                value, threshold = await self._backlog(queue), float(cfg.alert_backlog or 0)
            else:
                value, threshold = rates.get(queue), float(cfg.alert_error_rate or 0)
            was = (queue, kind) in self.active
            now = crossed(was, value, threshold)
            if now == was:
                continue
            shown = value if value is not None else 0.0
            if now:
                self.active[(queue, kind)] = shown
            else:
                self.active.pop((queue, kind), None)
            events.append(AlertEvent(queue, kind, now, shown, threshold, now_iso()))
        for event in events:
            await self._announce(event)
        return events

    async def _announce(self, event: AlertEvent) -> None:
        fields = {"queue": event.queue, "alert": event.alert, "value": event.value, "threshold": event.threshold}
        if event.active:
            log.warning(
                "alert %s entered on queue %s: %g > %g",
                event.alert,
                event.queue,
                event.value,
                event.threshold,
                extra=fields,
            )
        else:
            log.info(
                "alert %s left on queue %s: %g <= %g",
                event.alert,
                event.queue,
                event.value,
                event.threshold,
                extra=fields,
            )
        for handler in self._handlers:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("alert handler %r failed", handler)


def backlog_reader(conn: transport.Connection) -> Backlog:
    """The queue's backlog (all priorities) read from the server; None if the stream is missing."""

    async def read(queue: str) -> float | None:
        stats = await transport.queue_stats(conn, queue, with_dead=False)
        return float(stats.backlog) if stats is not None else None

    return read
