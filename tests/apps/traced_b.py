"""Service B of the tracing tests: follow-up work enqueued by service A."""

from __future__ import annotations

from jetjobs import App

app = App("notify-worker")


@app.task(queue="b")
async def follow_up(order_id: str) -> str:
    return f"followed {order_id}"
