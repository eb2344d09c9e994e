"""The catalog bucket: workers publish their tasks at start-up, producers read them (cached)."""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from .. import transport
from .._catalog import CatalogEntry
from .._link import Link
from .._task import Task
from ._build import entry_for

log = logging.getLogger("jetjobs.catalog")

_KEY_RE = re.compile(r"^[-_=A-Za-z0-9]+(\.[-_=A-Za-z0-9]+)*$")
_ENCODED = "b64="  # task names that cannot be KV keys as they are (spaces are refused already)


def catalog_key(task: str) -> str:
    """The KV key of a task: its name when it can be one (``send_email``, ``billing.charge``).

    >>> catalog_key("billing.charge"), catalog_key("a:b")
    ('billing.charge', 'b64=YTpi')
    """
    if _KEY_RE.fullmatch(task) and not task.startswith(_ENCODED):
        return task
    return _ENCODED + base64.urlsafe_b64encode(task.encode()).decode().rstrip("=")


class Catalog:
    """The server's task catalog, through the app's link.

    Lookups are cached (``hit_s`` for a task found, ``miss_s`` for one that is not), so a
    producer enqueuing by name pays one KV read per task and minute, not per job.

    Example::

        catalog = Catalog(link)
        await catalog.publish(app.tasks.values(), service="billing")   # what a worker does
        entry = await catalog.entry("send_email")                       # what a producer does
    """

    def __init__(self, link: Link, *, hit_s: float = 30.0, miss_s: float = 2.0) -> None:
        self._link = link
        self._hit_s = hit_s
        self._miss_s = miss_s
        self._cache: dict[str, tuple[float, CatalogEntry | None]] = {}
        self._store: transport.KeyValueStore | None = None

    def _bucket(self) -> transport.KeyValueStore:
        conn = self._link.connection
        if self._store is None:
            self._store = transport.KeyValueStore(conn, conn.names.catalog_bucket)
        return self._store

    async def ensure(self) -> transport.KeyValueStore:
        """The catalog bucket, created if missing (``jetjobs provision`` does it once)."""
        store = self._bucket()
        await store.ensure(
            description="jetjobs task catalog: what each task's workers accept",
            replicas=self._link.settings.status_replicas,
        )
        return store

    async def publish(self, tasks: Iterable[Task[..., Any]], *, service: str) -> list[CatalogEntry]:
        """Write the entry of each task (creating the bucket if needed); return them."""
        store = await self.ensure()
        entries = [entry_for(task, service) for task in tasks]
        for entry in entries:
            await store.put(catalog_key(entry.name), entry.encode())
            self._cache[entry.name] = (time.monotonic(), entry)
        return entries

    async def entry(self, task: str, *, fresh: bool = False) -> CatalogEntry | None:
        """The published entry of ``task``; None when no worker published it (or no catalog exists).

        ``fresh`` reads the server even when a miss is cached (before failing a call for it).
        """
        now = time.monotonic()
        cached = self._cache.get(task)
        max_age = self._hit_s if cached is not None and cached[1] is not None else (0.0 if fresh else self._miss_s)
        if cached is not None and now - cached[0] < max_age:
            return cached[1]
        try:
            found = await self._bucket().get(catalog_key(task))
        except transport.BucketMissing:
            found = None  # no worker has published a catalog in this namespace yet
        entry = _decode(found.value) if found is not None and found.value else None
        self._cache[task] = (now, entry)
        return entry

    async def entries(self) -> list[CatalogEntry]:
        """Every published entry, sorted by task name."""
        try:
            found = await self._bucket().matching(">")
        except transport.BucketMissing:
            return []
        decoded = (_decode(e.value) for e in found if e.value)
        return sorted((e for e in decoded if e is not None), key=lambda e: e.name)


def _decode(data: bytes) -> CatalogEntry | None:
    try:
        return CatalogEntry.decode(data)
    except ValueError as exc:  # written by a newer or foreign publisher: skip it, say so once
        log.warning("unreadable catalog entry: %s", exc)
        return None
