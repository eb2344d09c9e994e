"""A service whose tasks use richer argument types (for the catalog and AsyncAPI tests)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from jetjobs import App

app = App("mailer")


class Address(BaseModel):
    street: str
    city: str


@app.task(queue="emails", version="2", max_retries=4)
async def send_email(to: str, subject: str, retries: int = 1) -> dict[str, str]:
    """Send one email."""
    return {"to": to, "subject": subject}


@app.task(queue="post", priority="low")
def send_letter(address: Address, when: datetime, pages: tuple[int, str] = (1, "a4"), *, tags: list[str]) -> None:
    """Post a letter."""
