"""CPU accounting: CPU per job of the client and the server, and CPU taken by others (noise)."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (e.g. our nats-server), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuMeter:
    """CPU per job of this process and of the nats-server over a timed section."""

    server_pid: int
    jobs: int
    _wall: float = 0.0
    _own: float = 0.0
    _server: float = 0.0

    def __enter__(self) -> CpuMeter:
        self._server = cpu_seconds(self.server_pid)
        self._own, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wall = time.perf_counter() - self._wall
        self._own = time.process_time() - self._own
        self._server = cpu_seconds(self.server_pid) - self._server

    def result(self) -> dict[str, float]:
        return {
            "rate": self.jobs / self._wall,
            "seconds": self._wall,
            "client_cpu_us": 1e6 * self._own / self.jobs,
            "server_cpu_us": 1e6 * self._server / self.jobs,
        }


def _system_busy_s() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def _own_cpu_s() -> float:
    """CPU of this process plus its reaped children (servers, workers, consumers we started)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class NoiseMeter:
    """How busy the machine was with other work during a measurement, in CPU cores.

    The bench shares a 2-core machine; a test suite running next to it shifts the
    numbers, so every run records the cores used by others (and stolen by the VM host).
    """

    def __init__(self) -> None:
        self._start = (time.monotonic(), *_system_busy_s(), _own_cpu_s())

    def stop(self) -> dict[str, float]:
        wall0, busy0, steal0, own0 = self._start
        wall, busy, steal, own = time.monotonic(), *_system_busy_s(), _own_cpu_s()
        seconds = max(wall - wall0, 1e-9)
        others = max(0.0, (busy - busy0) - (own - own0))
        return {"others_cores": others / seconds, "steal_cores": (steal - steal0) / seconds}
