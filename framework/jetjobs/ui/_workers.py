"""Worker presence records (written by ``worker/_presence.py``), marked stale after missed beats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .. import transport
from .._app import App
from .._wire import parse_iso
from ..errors import JetjobsError

STALE_AFTER_BEATS = 3


async def worker_rows(app: App, now: datetime | None = None) -> list[dict[str, Any]]:
    conn = app.connection
    store = transport.KeyValueStore(conn, conn.names.workers_bucket)
    try:
        entries = await store.items()
    except JetjobsError:
        return []  # no worker has started yet
    now = now or datetime.now(UTC)
    rows = []
    for entry in entries:
        try:
            record: dict[str, Any] = json.loads(entry.value or b"{}")
            beat = parse_iso(str(record["heartbeat_at"]))
        except (ValueError, KeyError):
            continue
        age = (now - beat).total_seconds()
        interval = float(record.get("interval_s") or 5.0)
        rows.append({**record, "age_s": round(age, 1), "stale": age > STALE_AFTER_BEATS * interval})
    rows.sort(key=lambda r: (r["stale"], str(r.get("app")), str(r.get("worker"))))
    return rows
