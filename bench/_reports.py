"""What the handlers report (over UDP, cheaply) and what the bench makes of it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._procs import Child


class DrainReport:
    """Counts handler starts in memory; one datagram when the last expected one has started.

    The datagram also carries the handler process's CPU time at the first and last start,
    so the bench can tell the handler process's CPU per job next to the rate.
    """

    def __init__(self, expect: int, send: Callable[[str], None]) -> None:
        self.expect = expect
        self.send = send
        self.count = 0
        self.first = 0.0
        self.first_cpu = 0.0

    def started(self, at: float) -> None:
        self.count += 1
        if self.count == 1:
            self.first, self.first_cpu = at, time.process_time()
        if self.count == self.expect:
            self.send(f"{self.first!r} {at!r} {self.count} {self.first_cpu!r} {time.process_time()!r}")


class SharedDrainReport:
    """Like ``DrainReport``, for a drain shared by several worker processes (``--processes N``).

    No process knows when the queue is empty, so each one reports its own running
    totals: a datagram ``"<pid> <count> <first> <last> <cpu at first> <cpu now>"`` at
    most every ``every_s`` while it starts jobs (a timer, so per job it is still just a
    counter), including one shortly after its last start. The bench adds the counts of
    the processes up (``shared_drain_result``) until they reach the number it queued.
    """

    def __init__(self, send: Callable[[str], None], every_s: float = 0.02) -> None:
        self.send = send
        self.every_s = every_s
        self.pid = os.getpid()
        self.count = 0
        self.first = self.last = 0.0
        self.first_cpu = 0.0
        self._flush_pending = False

    def started(self, at: float) -> None:
        self.count += 1
        self.last = at
        if self.count == 1:
            self.first, self.first_cpu = at, time.process_time()
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_later(self.every_s, self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        now_cpu = time.process_time()
        self.send(f"{self.pid} {self.count} {self.first!r} {self.last!r} {self.first_cpu!r} {now_cpu!r}")


def udp_sender(addr: str) -> Callable[[str], None]:
    """A cheap way for a handler to report: one sendto() on a socket opened once."""
    host, _, port = addr.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = (host, int(port))

    def send(text: str) -> None:
        sock.sendto(text.encode(), target)

    return send


class ReportInbox(asyncio.DatagramProtocol):
    """Datagrams from handler processes, queued in arrival order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.addr = ""

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.queue.put_nowait(data.decode())

    async def next(self, child: Child, timeout_s: float) -> str:
        """The next report; fails early (with the child's log) if the child died without one."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no report within {timeout_s:g}s; child log:\n{child.log_tail()}")
            try:
                async with asyncio.timeout(min(left, 0.5)):
                    return await self.queue.get()
            except TimeoutError:
                # A child may exit right after reporting (the plain drain consumer does):
                # only a child that died with nothing in the queue is an error.
                if not child.alive and self.queue.empty():
                    raise child.died() from None

    async def next_fast(self, timeout_s: float) -> str:
        """The next report on the latency hot path: no liveness polling, one timeout."""
        async with asyncio.timeout(timeout_s):
            return await self.queue.get()


@contextlib.asynccontextmanager
async def report_inbox() -> AsyncIterator[ReportInbox]:
    loop = asyncio.get_running_loop()
    transport, inbox = await loop.create_datagram_endpoint(ReportInbox, local_addr=("127.0.0.1", 0))
    host, port = transport.get_extra_info("sockname")[:2]
    inbox.addr = f"{host}:{port}"
    try:
        yield inbox
    finally:
        transport.close()


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, round(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Latency:
    """Enqueue-to-handler-start latencies in ms."""

    samples_ms: list[float]

    def summary(self) -> dict[str, float]:
        values = sorted(self.samples_ms)
        return {
            "p50_ms": percentile(values, 50),
            "p90_ms": percentile(values, 90),
            "p99_ms": percentile(values, 99),
            "max_ms": values[-1],
            "mean_ms": sum(values) / len(values),
        }


async def measure_latency(
    send: Callable[[int], Awaitable[None]],
    inbox: ReportInbox,
    child: Child,
    samples: int,
    warmup: int,
    gap_s: float,
) -> Latency:
    """Shared by both sides: time from just before the send call to the handler's first line.

    The first job waits for the consumer process to come up; the warm-up jobs are not counted.
    ``gap_s`` of quiet after each report lets the previous job finish settling (ack, status
    write) so exactly one job is in flight.
    """
    await send(-1)
    await _expect(inbox.next(child, 60.0), -1)
    values: list[float] = []
    for i in range(warmup + samples):
        await asyncio.sleep(gap_s)
        before = time.time()
        await send(i)
        started = await _expect(inbox.next_fast(10.0), i)
        if i >= warmup:
            values.append((started - before) * 1000)
    return Latency(values)


async def _expect(report: Awaitable[str], i: int) -> float:
    """The start time reported for job i; a report of another job (a redelivery) is a bench error."""
    seq, started = (await report).split()
    if int(seq) != i:
        raise RuntimeError(f"expected the report of job {i}, got one of job {seq}")
    return float(started)


def drain_result(report: str, server_cpu_s: float) -> dict[str, float]:
    """Rate between first and last handler start, and CPU per job, from a DrainReport datagram."""
    first, last, count, first_cpu, last_cpu = (float(v) for v in report.split())
    jobs = count - 1
    return {
        "rate": jobs / (last - first),
        "seconds": last - first,
        "count": count,
        "client_cpu_us": 1e6 * (last_cpu - first_cpu) / jobs,
        "server_cpu_us": 1e6 * server_cpu_s / count,
    }
