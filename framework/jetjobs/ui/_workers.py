"""Worker presence records for the workers page (written and read by ``worker/_presence.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .._app import App
from ..worker._presence import list_workers


async def worker_rows(app: App, now: datetime | None = None) -> list[dict[str, Any]]:
    return await list_workers(app.connection, now)
