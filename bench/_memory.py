"""Worker memory while it drains a pre-filled backlog: the measurement of bench/memory.py.

A fresh nats-server is filled with ``n`` no-op jobs (``app.enqueue_many``, nothing
consuming), then ONE ``jetjobs worker bench.tasks:app`` process starts with default
settings and drains them. Its resident set size is read from ``/proc/<pid>/status``
every ``interval_s`` (``VmRSS``), and the kernel's own high-water mark (``VmHWM``,
the peak RSS over the process's whole life, between samples too) when the drain ends.
The handler reports every ``every`` starts over UDP, so each sample carries how many
jobs had started by then.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jetjobs import transport
from jetjobs.testing import NatsServer

from ._jetjobs import WORKER, _enqueue_range
from ._procs import Child, child_env, child_process
from ._reports import ReportInbox, report_inbox
from .tasks import QUEUE, build_app

PROGRESS_EVERY_S = 10.0  # a progress line at most this often
STALL_S = 60.0  # no handler start for this long: the bench gives up (with the worker's log)
TAIL_S = 1.0  # sampling goes on this long after the last counted start (its settle, status write)

Say = Callable[[str], None]


def memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of a process, in kB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def disk_bytes(path: Path) -> int:
    """Bytes a directory tree takes on disk (as ``du``)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # the server compacts blocks meanwhile
                continue
    return total


def check_disk(server: NatsServer, n: int, bytes_per_job: float, say: Say) -> None:
    """Fail before filling when the server's store would not fit (with room to spare)."""
    need = int(2 * n * bytes_per_job) + (1 << 30)
    free = shutil.disk_usage(server.store_dir).free
    say(f"  store {server.store_dir}: {free / 2**30:.1f} GiB free, about {need / 2**30:.1f} GiB needed at most")
    if free < need:
        raise RuntimeError(f"not enough disk for a {n:,}-job backlog: {free:,} bytes free, {need:,} wanted")


@dataclass
class Sample:
    at_s: float  # since the worker process started
    jobs: int  # handler starts reported by then
    rss_kb: int


@dataclass
class Drain:
    """The worker's memory over one drain."""

    backlog: int  # jobs waiting when the worker started
    target: int  # handler starts the bench waited for
    every: int
    samples: list[Sample] = field(default_factory=list)
    peak_kb: int = 0  # VmHWM at the end of the drain
    seconds: float = 0.0  # first to last counted start (progress granularity)
    awaiting: list[tuple[int, int]] = field(default_factory=list)  # (jobs, most result writes unanswered)
    server_rss_kb: dict[str, int] = field(default_factory=dict)

    @property
    def jobs(self) -> int:
        return self.samples[-1].jobs if self.samples else 0

    @property
    def draining(self) -> list[Sample]:
        return [s for s in self.samples if 0 < s.jobs < self.target]

    @property
    def steady_kb(self) -> int:
        """Median RSS over the second half of the drain (by jobs started)."""
        half = [s.rss_kb for s in self.samples if self.target / 2 <= s.jobs < self.target]
        return int(statistics.median(half or [s.rss_kb for s in self.draining] or [self.peak_kb]))

    @property
    def first_kb(self) -> int:
        """RSS at the first sample with jobs started: the start-up level."""
        return next((s.rss_kb for s in self.samples if s.jobs > 0), 0)

    @property
    def max_sample_kb(self) -> int:
        return max((s.rss_kb for s in self.samples), default=0)

    def curve(self, points: int = 10) -> list[tuple[int, int]]:
        """(jobs started, RSS kB) at about every 1/points of the drain: is it flat?"""
        out: list[tuple[int, int]] = []
        for k in range(1, points + 1):
            mark = self.target * k // points
            sample = next((s for s in self.samples if s.jobs >= mark), None)
            if sample is not None:
                out.append((sample.jobs, sample.rss_kb))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "backlog": self.backlog,
            "drained": self.jobs,
            "target": self.target,
            "rate": round((self.target - self.every) / self.seconds) if self.seconds else None,
            "peak_rss_kb": self.peak_kb,
            "max_sampled_rss_kb": self.max_sample_kb,
            "steady_rss_kb": self.steady_kb,
            "first_job_rss_kb": self.first_kb,
            "curve": self.curve(),
            "server_rss_kb": self.server_rss_kb,
            "max_awaiting_answer": max((a for _, a in self.awaiting), default=0),
            "awaiting_answer": self.awaiting,
            "samples": [[round(s.at_s, 2), s.jobs, s.rss_kb] for s in self.samples],
        }


async def fill(server: NatsServer, n: int, chunk: int, say: Say) -> dict[str, float]:
    """Enqueue n jobs with ``app.enqueue_many``, nothing consuming; a progress line every few seconds."""
    app, task = build_app(nats_url=server.url)
    started = last = time.monotonic()
    async with app:
        step = max(chunk, 50 * chunk)
        for low in range(0, n, step):
            await _enqueue_range(app, task, low, min(low + step, n), chunk)
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY_S and low + step < n:
                last = now
                done = low + step
                say(f"    filled {done:,} / {n:,} ({done / (now - started):,.0f}/s)")
        waiting = await backlog(app.connection)
    took = time.monotonic() - started
    return {"seconds": took, "rate": n / took, "waiting": waiting}


async def backlog(conn: transport.Connection) -> int:
    """Jobs waiting in the queue's stream (a work queue: every message not yet acknowledged)."""
    stats = await transport.queue_stats(conn, QUEUE, with_dead=False)
    return stats.messages if stats is not None else 0


async def drain(server: NatsServer, waiting: int, target: int, every: int, interval_s: float, say: Say) -> Drain:
    """Start the worker on the filled queue; sample its RSS until ``target`` handlers have started."""
    assert server.pid is not None
    result = Drain(backlog=waiting, target=target, every=every)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        async with report_inbox() as inbox:
            env = child_env(server.url, report_addr=inbox.addr, mode="progress", every=str(every), expect=str(target))
            result.server_rss_kb["start"] = memory_kb(server.pid)["VmRSS"]
            with child_process(WORKER, env, Path(tmp) / "worker.log") as child:
                await _follow(child, inbox, result, interval_s, say)
            result.server_rss_kb["end"] = memory_kb(server.pid)["VmRSS"]
    return result


async def _follow(child: Child, inbox: ReportInbox, result: Drain, interval_s: float, say: Say) -> None:
    pid = child.proc.pid
    started = time.monotonic()
    jobs, first_at, last_at, progress_at, moved_at, done_at = 0, 0.0, 0.0, started, started, None
    while True:
        await asyncio.sleep(interval_s)
        if not child.alive:
            raise child.died()
        while not inbox.queue.empty():
            count, at, awaiting = inbox.queue.get_nowait().split()
            jobs = max(jobs, int(count))
            result.awaiting.append((int(count), int(awaiting)))
            first_at = first_at or float(at)
            last_at = float(at)
        now = time.monotonic()
        result.samples.append(Sample(now - started, jobs, memory_kb(pid)["VmRSS"]))
        if result.samples[-2:-1] and result.samples[-2].jobs != jobs:
            moved_at = now
        if now - moved_at > STALL_S:
            raise RuntimeError(f"the worker started no job for {STALL_S:g}s; its log:\n{child.log_tail()}")
        if now - progress_at >= PROGRESS_EVERY_S and done_at is None:
            progress_at = now
            rss = result.samples[-1].rss_kb / 1024
            say(f"    drained {jobs:,} / {result.target:,}: worker RSS {rss:.1f} MiB")
        if jobs >= result.target and done_at is None:
            done_at = now
        if done_at is not None and now - done_at >= TAIL_S:
            break
    result.peak_kb = memory_kb(pid)["VmHWM"]
    result.seconds = last_at - first_at
