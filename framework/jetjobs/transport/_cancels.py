"""The cancel bucket: job id -> cancel request, watched by every worker.

One KV put is both the durable marker (a worker that fetches the job later, or
starts later, still sees it) and the broadcast (every worker's watch of the
bucket gets it within milliseconds, so a running job can be stopped).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from .._settings import Settings
from .._wire import now_iso
from ._connection import Connection
from ._kvstore import KeyValueStore

OnCancel = Callable[[str, str], None]
"""Called with (job id, reason) for every cancel request, old and new."""


class CancelStore:
    """Cancel requests, kept for ``result_ttl_s`` (as long as a job's status)."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self._conn = conn
        self._settings = settings
        self.kv = KeyValueStore(conn, conn.names.cancel_bucket)
        self._ready = False

    async def ensure(self) -> None:
        if not self._ready:
            await self.kv.ensure(
                description="jetjobs cancel requests",
                replicas=self._settings.status_replicas,
                ttl_s=self._settings.result_ttl_s,
            )
            self._ready = True

    async def request(self, job_id: str, reason: str) -> None:
        """Store a cancel request (idempotent: a second one only refreshes it)."""
        await self.ensure()
        await self.kv.put(job_id, json.dumps({"reason": reason, "at": now_iso()}).encode())

    async def follow(self, on_cancel: OnCancel, loaded: asyncio.Event) -> None:
        """Call ``on_cancel`` for every stored request, set ``loaded``, then for each new one; until cancelled."""
        await self.ensure()
        kv = await self.kv.handle()
        watcher = await kv.watch(">", ignore_deletes=True)
        try:
            async for entry in watcher:
                if entry is None:
                    loaded.set()  # end of the stored requests
                    continue
                if not entry.value:
                    continue
                try:
                    reason = str(json.loads(entry.value).get("reason", ""))
                except ValueError:
                    reason = ""
                on_cancel(entry.key, reason or "cancelled")
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
