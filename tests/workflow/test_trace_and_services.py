"""A run across two worker services (each has only its own tasks) is one trace; run metrics count it."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jetjobs import App
from jetjobs.telemetry import metrics
from tests.helpers import AppFactory, eventually, running_worker


def orders(app: App) -> None:
    @app.task(queue="orders")
    async def validate_order(order_id: str) -> dict[str, object]:
        return {"amount": 10}

    @app.task(queue="orders")
    async def fulfill_order(order_id: str) -> str:
        return f"shipped {order_id}"


def payments(app: App) -> None:
    @app.task(queue="payments")
    async def process_payment(order_id: str, amount: int) -> str:
        return f"paid {amount}"


def declare(app: App) -> None:
    wf = app.workflow("two-services", version="1")
    wf.step("validate", "validate_order", queue="orders", input={"order_id": "{{input.order_id}}"})
    wf.step(
        "pay",
        "process_payment",
        queue="payments",
        depends_on=["validate"],
        input={"order_id": "{{input.order_id}}", "amount": "{{tasks.validate.output.amount}}"},
    )
    wf.step("ship", "fulfill_order", queue="orders", depends_on=["pay"], input={"order_id": "{{input.order_id}}"})


async def test_one_trace_covers_every_step_in_both_services(
    app_factory: AppFactory, spans: InMemorySpanExporter
) -> None:
    orders_app = app_factory(orders, name="orders-svc")
    payments_app = app_factory(payments, name="payments-svc")
    producer = app_factory(declare, name="shop")
    before = metrics.workflow_runs.values.get(("two-services", "succeeded"), 0.0)
    async with running_worker(orders_app), running_worker(payments_app), producer:
        run = await producer.execute_workflow("two-services", input={"order_id": "o-9"})
        assert await run.result(timeout_s=20) == "shipped o-9"

        def processed() -> list[object]:
            return [s for s in spans.get_finished_spans() if s.name.startswith("process ")]

        await eventually(lambda: len(processed()) == 3)
    finished = spans.get_finished_spans()
    start = [s for s in finished if s.name == "workflow.start two-services"]
    assert len(start) == 1
    trace_id = start[0].context.trace_id
    steps = {s.name: s for s in finished if s.name.startswith("process ")}
    assert set(steps) == {"process validate_order", "process process_payment", "process fulfill_order"}
    assert {s.context.trace_id for s in steps.values()} == {trace_id}
    assert start[0].attributes["jetjobs.workflow.run_id"] == run.id
    assert metrics.workflow_runs.values[("two-services", "succeeded")] == before + 1
