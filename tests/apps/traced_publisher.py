"""The publisher service of the tracing tests: an 'HTTP request' that enqueues work by name."""

from __future__ import annotations

import asyncio

from opentelemetry import trace

from jetjobs import App, telemetry


async def main() -> None:
    telemetry.configure("publisher")
    async with App("publisher") as app:
        with trace.get_tracer("tests").start_as_current_span("POST /orders", kind=trace.SpanKind.SERVER):
            await app.enqueue("flaky_then_ok", kwargs={"order_id": "o-1"}, queue="a", job_id="o-1")
        await app.enqueue("always_fails", queue="a", job_id="doomed")
    telemetry.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
