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
