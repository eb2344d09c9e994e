"""Service A of the tracing tests: a job that fails twice then succeeds and hands work to service B."""

from __future__ import annotations

from datetime import timedelta

from jetjobs import App, current_job

app = App("orders-worker")


@app.task(queue="a", max_retries=3, retry_delay_s=0.2, retry_jitter=False)
async def flaky_then_ok(order_id: str) -> str:
    attempt = current_job().attempt
    if attempt <= 2:
        raise ConnectionError(f"gateway down on attempt {attempt}")
    await app.enqueue("follow_up", kwargs={"order_id": order_id}, queue="b", job_id=f"follow-{order_id}")
    return "ok"


@app.task(queue="a", max_retries=1, retry_delay_s=0.2, retry_jitter=False)
async def always_fails() -> None:
    raise RuntimeError("no luck")


@app.periodic(every=timedelta(seconds=1), queue="a", name="heartbeat")
async def heartbeat() -> None:
    """Fired by the scheduler: each fire starts a trace of its own."""
