"""Payments worker service: charges cards, then asks the notifications service for a receipt.

It also runs the payment steps of the ``order-processing`` workflow (``process_payment``
and its compensation ``refund_payment``); the order steps run in the orders service.

Run it: ``jetjobs worker services.payments.tasks:app``
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from jetjobs import App, current_job

log = logging.getLogger("payments")

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows.yaml"

app = App("payments")
app.queue("payments", concurrency=8, ack_wait_s=10)
app.load_workflows(WORKFLOWS)


class GatewayTimeout(ConnectionError):
    """The payment gateway did not answer; worth retrying."""


@app.task(
    queue="payments",
    max_retries=4,
    retry_backoff="exponential",
    retry_delay_s=0.5,
    retry_max_delay_s=10,
    retry_for=(ConnectionError,),
    timeout_s=30,
)
async def charge_card(order_id: str, amount_cents: int, customer: str) -> dict[str, object]:
    """Charge an order; the gateway times out twice for orders ending in 3 (then succeeds)."""
    job = current_job()
    await asyncio.sleep(0.05)  # the gateway round trip
    if order_id.endswith("3") and job.attempt < 3:
        raise GatewayTimeout(f"gateway timeout charging {order_id} (attempt {job.attempt})")
    # Follow-up work for another service, by name: payments does not import notifications' code.
    receipt = await app.enqueue(
        "send_receipt",
        kwargs={"order_id": order_id, "customer": customer, "amount_cents": amount_cents},
        queue="notifications",
        job_id=f"receipt-{order_id}",
    )
    log.info("charged %s %.2f EUR (attempt %d)", order_id, amount_cents / 100, job.attempt)
    return {"order_id": order_id, "charged_cents": amount_cents, "attempts": job.attempt, "receipt_job": receipt.id}


@app.task(queue="payments", max_retries=2)
async def reconcile_payments() -> dict[str, int]:
    """Fired every few seconds by the scheduler service."""
    await asyncio.sleep(0.02)
    log.info("reconciled the ledger with the gateway")
    return {"mismatches": 0}


@app.task(queue="payments")
async def expire_authorisations(older_than_days: int) -> int:
    """Fired nightly by the scheduler service."""
    return 0


@app.task(queue="payments", max_retries=2)
async def refund(order_id: str, amount_cents: int) -> dict[str, object]:
    """Refund an order."""
    await asyncio.sleep(0.02)
    return {"order_id": order_id, "refunded_cents": amount_cents}


# -- steps of the order-processing workflow (services/workflows.yaml) -----------------


@app.task(queue="payments", max_retries=2)
async def process_payment(order_id: str, amount_cents: int, customer: str) -> dict[str, object]:
    """Charge a validated order. The gateway times out once for order ids ending in 1; the
    workflow step's own policy (``retry_on: [GatewayTimeout]``) retries it."""
    job = current_job()
    await asyncio.sleep(0.02)  # the gateway round trip
    if order_id.endswith("1") and job.attempt == 1:
        raise GatewayTimeout(f"gateway timeout charging {order_id} (attempt {job.attempt})")
    log.info("paid %s: %.2f EUR from %s (attempt %d)", order_id, amount_cents / 100, customer, job.attempt)
    return {"payment_id": f"pay-{order_id}", "charged_cents": amount_cents}


@app.task(queue="payments", max_retries=5)
async def refund_payment(order_id: str, payment_id: str) -> dict[str, str]:
    """The compensation of process_payment: runs when a later step of the order fails for good."""
    await asyncio.sleep(0.02)
    log.info("refunded %s for %s", payment_id, order_id)
    return {"order_id": order_id, "refund": f"refund-{payment_id}"}
