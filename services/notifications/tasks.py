"""Notifications worker service: renders and sends receipts and emails.

Run it: ``jetjobs worker services.notifications.tasks:app``
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jetjobs import App, current_job

log = logging.getLogger("notifications")

app = App("notifications")
app.queue("notifications", concurrency=16)

TEMPLATES = {
    "receipt": "Hi {customer}, we charged {amount} EUR for order {order_id}. Thanks!",
    "welcome": "Welcome aboard, {customer}!",
}


class TemplateNotFound(KeyError):
    """A programming error: retrying will not help, so it goes straight to the DLQ."""


@app.task(queue="notifications", max_retries=3, retry_for=(ConnectionError,), timeout_s=10)
async def send_receipt(order_id: str, customer: str, amount_cents: int, template: str = "receipt") -> str:
    """Render a receipt and 'send' it."""
    if template not in TEMPLATES:
        raise TemplateNotFound(f"no template {template!r}")
    text = TEMPLATES[template].format(customer=customer, amount=f"{amount_cents / 100:.2f}", order_id=order_id)
    await asyncio.sleep(0.01)  # the mail server
    log.info("receipt for %s sent to %s (job %s)", order_id, customer, current_job().id)
    return text


@app.task(queue="notifications", max_retries=3, retry_for=(ConnectionError,))
def send_email(to: str, subject: str, body: str = "") -> dict[str, str]:
    """A blocking SMTP client runs in the worker's thread pool."""
    return {"to": to, "subject": subject}


@app.task(queue="notifications")
async def resize(image: dict[str, Any], size: str) -> dict[str, Any]:
    """One variant of a product image for emails (a step of the image-processing canvas)."""
    width = {"thumb": 160, "small": 480, "large": 1200}[size]
    height = image["height"] * width // image["width"]
    stem = image["path"].rsplit(".", 1)[0]
    return {"path": f"{stem}@{size}.png", "width": width, "height": height}
