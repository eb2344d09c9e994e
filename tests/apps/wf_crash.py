"""A workflow app for crash tests: a → (b1, b2) → c → d (fails for good) → compensation of a.

Each task appends "done <job id> <pid> <attempt> <time>" to a file of its own
process in $E2E_RECORD_DIR, so a test can count how often each step ran.
"""

from __future__ import annotations

import os
import time

from jetjobs import App, current_job
from jetjobs.workflow import Step, StepRetry

app = App("wf-crash")
app.queue("crash", ack_wait_s=1)


def _record() -> None:
    directory = os.environ.get("E2E_RECORD_DIR")
    if directory:
        job = current_job()
        with open(os.path.join(directory, f"{os.getpid()}.log"), "a") as out:
            out.write(f"done {job.id} {os.getpid()} {job.attempt} {time.time():.6f}\n")


@app.task(queue="crash")
async def work(name: str) -> str:
    _record()
    return name


@app.task(queue="crash", max_retries=0)
async def refuse(name: str) -> str:
    _record()
    raise PermissionError(f"{name} is refused")


def declare(target: App) -> None:
    """The workflow, with queues given: a producer without the task code declares it too."""
    q = "crash"
    wf = target.workflow("crash", version="1", compensate={"a": Step("work", queue=q, input={"name": "undo-a"})})
    wf.step("a", "work", queue=q, input={"name": "a"})
    wf.step("b1", "work", queue=q, depends_on=["a"], input={"name": "b1"})
    wf.step("b2", "work", queue=q, depends_on=["a"], input={"name": "b2"})
    wf.step("c", "work", queue=q, depends_on=["b1", "b2"], input={"name": "c"})
    wf.step("d", "refuse", queue=q, depends_on=["c"], input={"name": "d"}, retry=StepRetry(max_attempts=1))


declare(app)


@app.task(queue="crash")
async def member(i: int) -> int:
    _record()
    return i


@app.task(queue="crash")
async def total(values: list[int]) -> int:
    _record()
    return sum(values)
