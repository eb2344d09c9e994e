"""Orders worker service: the order steps of the ``order-processing`` workflow.

It runs ``validate_order`` and ``fulfill_order``; the payment steps run in the payments
service. The workflow itself is declared in ``services/workflows.yaml``.

Run it: ``jetjobs worker services.orders.tasks:app``
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from jetjobs import App

log = logging.getLogger("orders")

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows.yaml"

app = App("orders")
app.queue("orders", concurrency=8)
app.load_workflows(WORKFLOWS)

# The catalogue: order ids ending in 2 want the sold-out lamp.
SKUS = {"desk": ("DESK-1", 24_900), "lamp": ("LAMP-7", 3_900)}
SOLD_OUT = {"LAMP-7"}


class OutOfStock(Exception):
    """Nothing to ship: retrying will not restock the warehouse."""


@app.task(queue="orders", max_retries=2)
async def validate_order(order_id: str) -> dict[str, object]:
    """Check the order and price it."""
    sku, amount_cents = SKUS["lamp" if order_id.endswith("2") else "desk"]
    await asyncio.sleep(0.01)  # the catalogue lookup
    log.info("validated %s: %s for %.2f EUR", order_id, sku, amount_cents / 100)
    return {"order_id": order_id, "sku": sku, "amount_cents": amount_cents}


@app.task(queue="orders", max_retries=2)
async def fulfill_order(order_id: str, sku: str) -> dict[str, str]:
    """Hand the order to the warehouse; a sold-out item fails for good (the payment is refunded)."""
    if sku in SOLD_OUT:
        raise OutOfStock(f"{sku} is sold out")
    await asyncio.sleep(0.01)
    log.info("shipped %s (%s)", order_id, sku)
    return {"order_id": order_id, "shipment": f"ship-{order_id}"}


# -- product images: the first and last steps of the image-processing canvas; the resizes
#    run in the notifications service (services/notifications/tasks.py) --------------------


@app.task(queue="orders")
async def process_image(path: str) -> dict[str, Any]:
    """Reads a product image and returns what the resizes need (here: its name and size)."""
    return {"path": path, "width": 2400, "height": 1600}


@app.task(queue="orders")
async def update_metadata(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """Stores the variants made by the group of resizes, in the order they were declared."""
    return {"variants": [v["path"] for v in variants], "count": len(variants)}
