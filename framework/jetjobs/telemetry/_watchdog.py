"""Notices an event loop blocked by an async task, and says which task.

A task that calls blocking code (``time.sleep``, a sync HTTP client, a long
computation) stalls every other job, the heartbeats and the probes. The loop
ticks a timestamp; a thread checks it and, when it is stale, looks at the loop
thread's stack for the code of a registered task.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType

log = logging.getLogger("jetjobs.watchdog")

_TICK_S = 0.1


class LoopWatchdog:
    def __init__(self, task_codes: Callable[[], dict[CodeType, str]], *, threshold_s: float = 1.0) -> None:
        self._task_codes = task_codes
        self.threshold_s = threshold_s
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._loop_thread = threading.get_ident()
        self._timer: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self.warnings = 0

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._tick()
        self._thread = threading.Thread(target=self._watch, name="jetjobs-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()

    def healthy(self) -> bool:
        """False when the loop has not ticked for ten thresholds (the liveness probe then fails)."""
        return time.monotonic() - self._beat < 10 * self.threshold_s

    def _tick(self) -> None:
        self._beat = time.monotonic()
        self._timer = asyncio.get_running_loop().call_later(_TICK_S, self._tick)

    def _watch(self) -> None:
        warned_for = 0.0
        while not self._stop.wait(self.threshold_s / 4):
            beat = self._beat
            stalled = time.monotonic() - beat
            if stalled < self.threshold_s or beat == warned_for:
                continue
            warned_for = beat  # one warning per stall
            self.warnings += 1
            culprit = self._culprit()
            log.warning("event loop blocked for %.1fs%s; blocking code belongs in a plain def task", stalled, culprit)

    def _culprit(self) -> str:
        frame: FrameType | None = sys._current_frames().get(self._loop_thread)
        codes = self._task_codes()
        while frame is not None:
            name = codes.get(frame.f_code)
            if name is not None:
                return f" by task {name!r} ({frame.f_code.co_filename}:{frame.f_lineno})"
            frame = frame.f_back
        return ""
