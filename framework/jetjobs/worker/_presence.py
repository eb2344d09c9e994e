"""Worker presence: each worker process keeps a heartbeat record in a KV bucket with a TTL.

The web UI's workers page (and anyone with a KV watch) reads the bucket: queues,
concurrency, jobs in flight, host and pid, last heartbeat. A worker that stops
cleanly deletes its record; one that dies stops refreshing it, so readers mark it
stale after a few missed beats and the bucket's TTL removes it soon after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from .._wire import now_iso, parse_iso
from ..errors import JetjobsError
from ..transport import Connection, KeyValueStore

log = logging.getLogger("jetjobs.worker")

PRESENCE_INTERVAL_S = 5.0
PRESENCE_TTL_S = 30.0  # six missed beats: the record disappears
STALE_AFTER_BEATS = 3
_KEY_SAFE = re.compile(r"[^-_=a-zA-Z0-9]")


def presence_key(host: str, pid: int) -> str:
    """A KV-safe key, unique per process even when containers share a host name and pid 1."""
    return f"{_KEY_SAFE.sub('_', host)}-{pid}-{secrets.token_hex(3)}"


class Presence:
    """Publishes ``snapshot()`` every ``interval_s`` until ``stop()``.

    Example::

        presence = Presence(conn, app="billing", queues={"emails": 32}, in_flight=lambda: {"emails": 3})
        await presence.start()
        ...
        await presence.stop()   # deletes the record
    """

    def __init__(
        self,
        conn: Connection,
        *,
        app: str,
        queues: Mapping[str, int],
        in_flight: Callable[[], Mapping[str, int]],
        interval_s: float = PRESENCE_INTERVAL_S,
    ) -> None:
        self._store = KeyValueStore(conn, conn.names.workers_bucket)
        self._replicas = conn.settings.status_replicas
        self._in_flight = in_flight
        self.interval_s = interval_s
        host, pid = socket.gethostname(), os.getpid()
        self.key = presence_key(host, pid)
        self._fixed: dict[str, Any] = {
            "id": self.key,
            "worker": f"{host}:{pid}",
            "app": app,
            "host": host,
            "pid": pid,
            "queues": dict(queues),
            "concurrency": sum(queues.values()),
            "started_at": now_iso(),
            "interval_s": interval_s,
        }
        self._task: asyncio.Task[None] | None = None

    def snapshot(self) -> dict[str, Any]:
        in_flight = dict(self._in_flight())
        return {**self._fixed, "in_flight": in_flight, "running": sum(in_flight.values()), "heartbeat_at": now_iso()}

    async def start(self) -> None:
        """Create the bucket if needed and write the first beat; a failure is logged, never
        raised: presence is for observers and must not keep a worker from working."""
        try:
            await self._store.ensure(
                description="jetjobs worker presence", replicas=self._replicas, ttl_s=PRESENCE_TTL_S
            )
            await self._beat()
        except Exception as exc:
            log.warning("worker presence unavailable (the workers page will not list this worker): %s", exc)
        self._task = asyncio.create_task(self._loop(), name="jetjobs-presence")

    @staticmethod
    async def stop_if_started(presence: Presence | None) -> None:
        if presence is not None:
            await presence.stop()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        try:
            await self._store.delete(self.key)
        except Exception:  # the record expires by itself; a shutdown never fails on it
            log.debug("could not delete presence record %s", self.key, exc_info=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self._beat()
            except Exception:  # a missed beat only makes the worker look stale for a while
                log.debug("presence heartbeat failed", exc_info=True)

    async def _beat(self) -> None:
        await self._store.put(self.key, json.dumps(self.snapshot(), separators=(",", ":")).encode())


async def list_workers(conn: Connection, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every presence record, with ``age_s`` and ``stale`` (missed ``STALE_AFTER_BEATS`` beats); live first.

    Example::

        for w in await list_workers(app.connection):
            print(w["worker"], w["queues"], w["running"], "stale" if w["stale"] else "alive")
    """
    store = KeyValueStore(conn, conn.names.workers_bucket)
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
        interval = float(record.get("interval_s") or PRESENCE_INTERVAL_S)
        rows.append({**record, "age_s": round(age, 1), "stale": age > STALE_AFTER_BEATS * interval})
    rows.sort(key=lambda r: (r["stale"], str(r.get("app")), str(r.get("worker"))))
    return rows
