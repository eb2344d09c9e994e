"""``cpu_limit`` of a ``cpu_bound`` task: keep its process to a share of one core.

There is no rlimit for a rate of CPU, and cgroups need privileges a worker
rarely has. So the parent watches the child's CPU time (``/proc/<pid>/stat``,
user + system) every 50 ms and, whenever it is ahead of ``cpu_limit`` x the wall
time the job has run, stops the child with SIGSTOP until the wall clock catches
up, then sends SIGCONT. The kernel does the stopping; a stopped child can still
be killed (timeout, cancel, shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator

_TICK_S = 0.05
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14, 15)


class CpuThrottle:
    def __init__(self, pid: int, share: float) -> None:
        self.pid = pid
        self.share = share
        self.stopped_s = 0.0  # how long the child was held, for tests and logs

    async def run(self) -> None:
        """Until cancelled: hold the child back whenever it used more than its share."""
        start_wall, start_cpu = time.monotonic(), cpu_seconds(self.pid)
        try:
            while True:
                await asyncio.sleep(_TICK_S)
                used = cpu_seconds(self.pid) - start_cpu
                allowed = self.share * (time.monotonic() - start_wall)
                if used > allowed:
                    pause = (used - allowed) / self.share
                    os.kill(self.pid, signal.SIGSTOP)
                    try:
                        await asyncio.sleep(pause)
                    finally:
                        os.kill(self.pid, signal.SIGCONT)
                    self.stopped_s += pause
        except (ProcessLookupError, FileNotFoundError):
            return  # the child is gone (killed on timeout or cancel)


@contextlib.asynccontextmanager
async def running(throttle: CpuThrottle | None) -> AsyncIterator[None]:
    if throttle is None:
        yield
        return
    task = asyncio.create_task(throttle.run(), name=f"jetjobs-cpu-limit-{throttle.pid}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
