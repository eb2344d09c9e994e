"""An app whose cpu_bound tasks the process pool can import (``tests.unit.cpu_app``).

cpu_bound tasks run in spawned child processes that find the function by module
and qualified name, so they cannot live in a test module's local scope.
"""

from __future__ import annotations

import jetjobs
from jetjobs import App

app = App("unit-cpu", nats_url="nats://127.0.0.1:1")


@app.task(queue="cpu", cpu_bound=True, max_retries=2, retry_jitter=False, retry_delay_s=1.0)
def fib(n: int) -> dict[str, int | str]:
    """Iterative Fibonacci, plus facts the child sees about its job."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    job = jetjobs.current_job()
    return {"value": a, "job_id": job.id, "attempt": job.attempt}


@app.task(queue="cpu", cpu_bound=True, timeout_s=1, max_retries=2, retry_jitter=False, retry_delay_s=5.0)
def spin_forever() -> None:
    """Never returns: only killing the process stops it."""
    while True:
        pass


@app.task(queue="cpu", cpu_bound=True, max_retries=2, retry_for=(ConnectionError,), retry_jitter=False)
def raise_in_child(kind: str) -> None:
    """Raises the named builtin error in the child process."""
    raise {"connection": ConnectionResetError, "value": ValueError}[kind](f"{kind} from child")
