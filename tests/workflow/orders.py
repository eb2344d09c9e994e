"""The order-processing workflow of the docs, as tasks and a definition, for tests."""

from __future__ import annotations

from typing import Any

from jetjobs import App
from jetjobs.workflow import Step, StepRetry


class TransientError(Exception):
    """A payment gateway hiccup: worth another attempt."""


class PaymentDeclined(Exception):
    """The card was declined: no point retrying."""


def register_tasks(app: App, calls: list[str]) -> None:
    @app.task(queue="orders")
    async def validate_order(order_id: str) -> dict[str, Any]:
        calls.append(f"validate:{order_id}")
        return {"order_id": order_id, "amount": 42.5, "items": [{"sku": "A-1", "qty": 2}]}

    @app.task(queue="payments", max_retries=5)
    async def process_payment(order_id: str, amount: float) -> dict[str, Any]:
        calls.append(f"pay:{order_id}:{amount}")
        if order_id.startswith("flaky") and calls.count(f"pay:{order_id}:{amount}") < 3:
            raise TransientError("gateway timeout")
        return {"payment_id": f"pay-{order_id}", "charged": amount}

    @app.task(queue="orders")
    async def fulfill_order(order_id: str, sku: str) -> str:
        calls.append(f"fulfill:{order_id}:{sku}")
        if order_id.startswith("nostock"):
            raise PaymentDeclined("out of stock")  # a permanent failure after payment
        return f"shipped {order_id}"

    @app.task(queue="payments")
    async def refund_payment(order_id: str, payment_id: str) -> str:
        calls.append(f"refund:{order_id}:{payment_id}")
        return f"refunded {payment_id}"


def declare(app: App, *, timeout_s: float | None = 1800) -> None:
    wf = app.workflow(
        "order-processing",
        version="1.0",
        timeout_s=timeout_s,
        compensate={
            "process-payment": Step(
                "refund_payment",
                input={"order_id": "{{input.order_id}}", "payment_id": "{{tasks.process-payment.output.payment_id}}"},
            )
        },
    )
    wf.step("validate-order", "validate_order", input={"order_id": "{{input.order_id}}"})
    wf.step(
        "process-payment",
        "process_payment",
        depends_on=["validate-order"],
        input={"order_id": "{{input.order_id}}", "amount": "{{tasks.validate-order.output.amount}}"},
        retry=StepRetry(max_attempts=4, backoff="exponential", initial_s=0.05, max_s=0.2, jitter=False),
        retry_on=["TransientError"],
    )
    wf.step(
        "fulfill-order",
        "fulfill_order",
        depends_on=["process-payment"],
        input={"order_id": "{{input.order_id}}", "sku": "{{tasks.validate-order.output.items[0].sku}}"},
        retry=StepRetry(max_attempts=1),
    )
