"""cpu_bound tasks for the cancel and progress tests (children import them by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from jetjobs import App, current_job


def register(app: App) -> None:
    app.task(queue="cpu", cpu_bound=True, timeout_s=60)(hold)
    app.task(queue="cpu", cpu_bound=True, timeout_s=60)(count_up)


def hold(pid_file: str) -> None:
    """Write the child's pid, then spin until killed."""
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(0.01)


def count_up(steps: int, gate: str) -> int:
    """Report progress step by step; stay at the last step until ``gate`` exists."""
    job = current_job()
    for i in range(steps):
        job.progress((i + 1) / steps, f"step {i + 1}/{steps}")
    while not Path(gate).exists():
        time.sleep(0.01)
    return steps


def register_limits(app: App) -> None:
    app.task(queue="cpu", cpu_bound=True, max_memory="256MiB", max_retries=3)(allocate)
    app.task(queue="cpu", cpu_bound=True, cpu_limit=0.25, timeout_s=60)(burn)
    app.task(queue="cpu", cpu_bound=True, timeout_s=60)(burn_free)


def allocate(mib: int) -> int:
    """bytes(n) is calloc'ed: untouched pages cost no memory, so only the limit makes it fail."""
    return len(bytes(mib * 1024 * 1024))


def burn(cpu_s: float) -> float:
    """Spin for ``cpu_s`` of CPU time; return the share of one core it got (CPU time / wall time)."""
    start_wall, start_cpu = time.monotonic(), time.process_time()
    while time.process_time() - start_cpu < cpu_s:
        pass
    return (time.process_time() - start_cpu) / (time.monotonic() - start_wall)


def burn_free(cpu_s: float) -> float:
    return burn(cpu_s)
