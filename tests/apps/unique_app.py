"""Unique tasks run by end-to-end tests in separate worker processes (events as in tests.apps.e2e)."""

from __future__ import annotations

import asyncio

from jetjobs import App
from tests.apps.e2e import _record


async def sync_user(user_id: int, n: int, sleep_s: float = 0.02) -> int:
    """One at a time per user, across every worker; later jobs wait for the key."""
    _record("start")
    await asyncio.sleep(sleep_s)
    _record("done")
    return n


async def hold_user(user_id: int, sleep_s: float) -> None:
    """Holds the user's key while it sleeps; a second enqueue is rejected."""
    _record("start")
    await asyncio.sleep(sleep_s)
    _record("done")


def register(app: App) -> None:
    app.queue("uniq", ack_wait_s=5, concurrency=8)
    by_user = {"unique": True, "unique_key": lambda user_id: f"user:{user_id}"}
    app.task(queue="uniq", unique_policy="queue", **by_user)(sync_user)
    app.task(queue="uniq", **by_user)(hold_user)


app = App("uniq")
register(app)
