"""The ``processes`` phase: ``jetjobs worker --processes 2`` next to ``--processes 1``.

Both sides drain the same pre-filled queue of N no-op jobs exactly like the ``drain``
phase (``bench.tasks:app``, default settings, a fresh nats-server per run), and both
report the same way: every worker process sends its running totals (``SharedDrainReport``)
and the bench adds them up until they reach N. The rate is N - 1 jobs over the time from
the first handler start in any process to the last one in any process. Target: 2
processes drain at least 1.5x as fast as 1 on a 2-core machine (where the nats-server
shares those cores).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jetjobs.testing import NatsServer
from jetjobs.transport import pause_queue, resume_queue

from ._jetjobs import WORKER, _enqueue_range
from ._meters import cpu_seconds
from ._procs import Child, child_env, child_process
from ._reports import ReportInbox, report_inbox
from ._runner import Runner
from .tasks import QUEUE, build_app

TARGET = 1.5
SIDES = ("1 process", "2 processes")


async def drain(server: NatsServer, n: int, chunk: int, processes: int) -> dict[str, Any]:
    """Pre-fill n jobs, then ``jetjobs worker bench.tasks:app --processes <processes>`` drains them."""
    assert server.pid is not None
    app, task = build_app(nats_url=server.url)
    async with app:
        await _enqueue_range(app, task, 0, n, chunk)
        # Paused while the processes start: otherwise the first one up drains alone until
        # the second is ready, and the ratio measures start-up skew, not throughput.
        await app.provision([QUEUE])
        await pause_queue(app.connection, QUEUE, datetime.now(UTC) + timedelta(minutes=10))
        with tempfile.TemporaryDirectory(prefix="bench-processes-") as tmp:
            async with report_inbox() as inbox:
                env = child_env(server.url, report_addr=inbox.addr, mode="shared_drain")
                command = [*WORKER, "--processes", str(processes)]
                log = Path(tmp) / "worker.log"
                with child_process(command, env, log) as child:
                    await _all_ready(child, processes, log)
                    resumed = time.time()
                    server_cpu = cpu_seconds(server.pid)
                    await resume_queue(app.connection, QUEUE)
                    totals = await _collect(inbox, child, n, timeout_s=60 + n / 200)
                    server_cpu = cpu_seconds(server.pid) - server_cpu
    result = shared_drain_result(totals, n, server_cpu)
    if result["first"] < resumed:
        raise RuntimeError("a job started while the queue was paused: the bench's pause did not hold")
    return result


async def _all_ready(child: Child, processes: int, log: Path, timeout_s: float = 60.0) -> None:
    """Until the worker says every process is ready (its log line)."""
    line = f"all {processes} worker processes ready" if processes > 1 else " ready: "
    deadline = time.monotonic() + timeout_s
    while line not in _read(log):
        if not child.alive:
            raise child.died()
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker not ready within {timeout_s:g}s:\n{child.log_tail()}")
        await asyncio.sleep(0.05)


async def _collect(inbox: ReportInbox, child: Child, n: int, timeout_s: float) -> dict[int, list[float]]:
    """Latest running totals per worker process, once their counts add up to n."""
    totals: dict[int, list[float]] = {}
    deadline = time.monotonic() + timeout_s
    while sum(int(t[0]) for t in totals.values()) < n:
        report = await inbox.next(child, max(deadline - time.monotonic(), 0.001))
        pid, *values = report.split()
        latest = [float(v) for v in values]  # count, first, last, first_cpu, cpu
        if int(pid) not in totals or latest[0] > totals[int(pid)][0]:
            totals[int(pid)] = latest
    return totals


def _read(log: Path) -> str:
    return log.read_text(errors="replace")


def shared_drain_result(totals: dict[int, list[float]], n: int, server_cpu_s: float) -> dict[str, Any]:
    """Rate from the first start in any process to the last one; CPU per job summed over processes.

    >>> r = shared_drain_result({1: [3, 10.0, 11.0, 0.0, 0.3], 2: [2, 10.5, 12.0, 0.0, 0.2]}, 5, 0.1)
    >>> r["rate"], r["processes_that_ran_jobs"], r["client_cpu_us"]
    (2.0, 2, 125000.0)
    """
    first = min(t[1] for t in totals.values())
    last = max(t[2] for t in totals.values())
    count = sum(int(t[0]) for t in totals.values())
    return {
        "rate": (count - 1) / (last - first),
        "seconds": last - first,
        "count": count,
        "first": first,
        "expected": n,
        "processes_that_ran_jobs": len(totals),
        "per_process": {str(pid): int(t[0]) for pid, t in sorted(totals.items())},
        "client_cpu_us": 1e6 * sum(t[4] - t[3] for t in totals.values()) / (count - 1),
        "server_cpu_us": 1e6 * server_cpu_s / count,
    }


def run(runner: Runner, n: int, chunk: int, repeat: int) -> dict[str, list[dict[str, Any]]]:
    """Both sides ``repeat`` times, alternating which goes first; each on a fresh server."""
    one, two = runner.both_sides(
        "processes",
        lambda s: drain(s, n, chunk, 1),
        lambda s: drain(s, n, chunk, 2),
        repeat,
        sides=SIDES,
    )
    return {SIDES[0]: one, SIDES[1]: two}


def table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """The row "2 processes ÷ 1" (best run of each side) against its target, and the CPU per job."""
    best = {side: max(r["rate"] for r in runs[side]) for side in SIDES}
    ratio = best[SIDES[1]] / best[SIDES[0]]
    cpu = {side: min(r["client_cpu_us"] for r in runs[side]) for side in SIDES}
    lines: list[tuple[str, ...]] = [
        ("drain (jobs/s)", *SIDES, "ratio", "target", "", "worker µs/job 1", "worker µs/job 2"),
        (
            "2 processes ÷ 1",
            *(_rate(runs[s]) for s in SIDES),
            f"{ratio:.2f}x",
            f">= {TARGET:g}x",
            "PASS" if ratio >= TARGET else "FAIL",
            f"{cpu[SIDES[0]]:.1f}",
            f"{cpu[SIDES[1]]:.1f}",
        ),
    ]
    return "\n".join(_grid(lines))


def passes(runs: dict[str, list[dict[str, Any]]]) -> bool:
    best = {side: max(r["rate"] for r in runs[side]) for side in SIDES}
    return best[SIDES[1]] / best[SIDES[0]] >= TARGET


def note(n: int) -> str:
    return (
        f"{n:,} pre-filled no-op jobs drained by `jetjobs worker bench.tasks:app --processes 1` vs "
        "`--processes 2` (defaults: concurrency 64 per process, results stored); each process reports its "
        "running count, first→last handler start over all processes"
    )


def _rate(runs: list[dict[str, Any]]) -> str:
    """The best rate, and how far the worst run was from it (own formatting: _results.py is not ours)."""
    rates = [r["rate"] for r in runs]
    spread = f" ({100 * (min(rates) - max(rates)) / max(rates):+.0f}%)" if len(rates) > 1 else ""
    return f"{max(rates):,.0f}{spread}"


def _grid(lines: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for n, line in enumerate(lines):
        out.append(
            "  ".join([line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)])
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
