"""``jetjobs status JOB --follow``: a live progress bar until the job ends.

Uses ``rich`` when it is installed (and the output is a terminal); otherwise one
plain line per change. Fed by a watch of the job's status key, not by polling.
"""

from __future__ import annotations

import sys
from typing import Any

from .._app import App
from .._status import JobInfo, JobState

_BAR_WIDTH = 30


async def follow(app: App, job_id: str, *, timeout_s: float | None) -> JobInfo:
    """Show the job's state and progress as they change; return its final status."""
    await app.status(job_id)  # a clear JobNotFound before waiting
    if sys.stdout.isatty():
        try:
            return await _follow_rich(app, job_id, timeout_s)
        except ImportError:
            pass
    return await _follow_plain(app, job_id, timeout_s)


async def _follow_plain(app: App, job_id: str, timeout_s: float | None) -> JobInfo:
    last: tuple[Any, ...] | None = None
    info: JobInfo | None = None
    async for info in app.watch(job_id, timeout_s=timeout_s):
        line = plain_line(info)
        key = (info.state, line)
        if key != last:
            print(line, flush=True)
            last = key
    assert info is not None
    return info


def plain_line(info: JobInfo) -> str:
    """One line: state, a text bar and the message, e.g. ``running [#######.......]  45% rows 450/1000``."""
    progress = info.progress
    error = f" ({info.error.type}: {info.error.message})" if info.error is not None else ""
    if progress is None:
        return f"{info.id}: {info.state.value}{error}"
    filled = round(progress.fraction * _BAR_WIDTH)
    bar = "#" * filled + "." * (_BAR_WIDTH - filled)
    message = f" {progress.message}" if progress.message else ""
    return f"{info.id}: {info.state.value} [{bar}] {progress.fraction:4.0%}{message}{error}"


async def _follow_rich(app: App, job_id: str, timeout_s: float | None) -> JobInfo:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    info: JobInfo | None = None
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(job_id, total=1.0)
        async for info in app.watch(job_id, timeout_s=timeout_s):
            fraction = info.progress.fraction if info.progress is not None else None
            message = info.progress.message if info.progress is not None and info.progress.message else ""
            description = f"{job_id} {info.state.value} {message}".rstrip()
            if info.state is JobState.SUCCEEDED:
                fraction = 1.0
            bar.update(task, completed=fraction or 0.0, description=description)
    assert info is not None
    return info
