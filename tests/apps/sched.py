"""The app of the scheduler end-to-end tests: a 1-second schedule and a task for dynamic ones.

Workers append "<event> <job id> <pid> <attempt> <time>" lines to $E2E_RECORD_DIR/<pid>.log.
"""

from __future__ import annotations

from datetime import timedelta

from jetjobs import App
from tests.apps.e2e import _record

app = App("sched")


@app.periodic(every=timedelta(seconds=1), queue="ticks", name="tick")
async def tick() -> None:
    """Fired every second by the scheduler replicas."""
    _record("done")


@app.task(queue="ticks")
async def dynamic_tick(label: str) -> None:
    """Fired by schedules added at runtime."""
    _record("done")
