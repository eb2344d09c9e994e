"""Helpers shared by both sides of the bench: the workload, child processes, UDP reports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# jetjobs' names for queue "bench" (jetjobs._names.Names); the plain side uses the
# same stream and subject so both store the same messages in the same kind of stream.
STREAM = "JOBS_bench"
SUBJECT = "jobs.bench.normal"
STREAM_SUBJECTS = ["jobs.bench.high", "jobs.bench.normal", "jobs.bench.low"]
PLAIN_DURABLE = "bench-plain"

# The header names and value sizes of a jetjobs job message. The plain producer
# sends the same set, but only the message id changes per message: the plain side
# is the floor a hand-written nats-py producer reaches, not a jetjobs clone.
_STATIC_HEADERS = {
    "Jetjobs-Task": "noop",
    "Jetjobs-Enqueued-At": "2026-11-22T00:00:00.000000Z",
    "Content-Type": "application/json",
}


def payload(i: int) -> dict[str, Any]:
    """The one small dict argument of every job."""
    return {"i": i, "user": "u123"}


def plain_message(i: int) -> tuple[bytes, dict[str, str]]:
    """Body and headers a plain nats-py producer sends: the bytes of a jetjobs job message."""
    body = json.dumps({"args": [], "kwargs": {"payload": payload(i)}}, separators=(",", ":")).encode()
    job_id = uuid.uuid4().hex
    return body, {"Nats-Msg-Id": job_id, "Jetjobs-Job-Id": job_id, **_STATIC_HEADERS}


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, round(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# -- child processes -------------------------------------------------------------------


def child_env(url: str, **bench: str) -> dict[str, str]:
    """Environment of a worker/consumer: ours without JETJOBS_* (defaults only), plus the server URL."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    env["JETJOBS_NATS_URL"] = url
    env.update({f"BENCH_{k.upper()}": v for k, v in bench.items()})
    return env


@contextlib.contextmanager
def child_process(args: Sequence[str], env: Mapping[str, str], log_path: Path) -> Iterator[Child]:
    """Start a process in the repo root; stop exactly that PID on the way out, whatever happens."""
    with log_path.open("wb") as log:
        # A new session keeps the terminal's Ctrl-C away from it: we stop it ourselves, in order.
        proc = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Child(proc, log_path)
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.proc.args!r} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except FileNotFoundError:
            return ""


def jetjobs_worker_command(app: str) -> list[str]:
    """``jetjobs worker <app>`` with this venv's console script (or ``-m jetjobs`` without one)."""
    script = Path(sys.executable).with_name("jetjobs")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "jetjobs"]
    return [*base, "worker", app]


# -- UDP reports from the handlers -----------------------------------------------------------


class DrainReport:
    """Counts handler starts in memory; one datagram when the last expected one has started.

    The datagram also carries the handler process's CPU time at the first and last start,
    so the bench can tell CPU per job (steady under noise) next to the rate (which is not).
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
        """The next report; fails early (with the child's log) if the child died."""
        deadline = time.monotonic() + timeout_s
        while True:
            child.check_alive()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no report within {timeout_s:g}s; child log:\n{child.log_tail()}")
            try:
                async with asyncio.timeout(min(left, 0.5)):
                    return await self.queue.get()
            except TimeoutError:
                continue

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


# -- results ------------------------------------------------------------------------------


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


# -- noise: CPU used by processes that are not ours ------------------------------------------


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
