"""The app's link to NATS: one connection, the status store, the streams known to exist.

The App owns one Link and hands it to the collaborators that talk to the server
(producer, results, dead letters, schedules), so none of them needs the App.
"""

from __future__ import annotations

import asyncio

from . import transport
from ._settings import Settings
from .errors import JetjobsError


class Link:
    """Connects on demand and tells a clear error when used before ``connect()``.

    Example::

        link = Link("billing", settings)
        await link.connect()
        await link.status_store.get("order-42")
        await link.close()
    """

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        # Queues (and the delayed-jobs stream) whose stream exists: checked once per process.
        self.known_streams: set[str] = set()
        self._conn: transport.Connection | None = None
        self._status: transport.StatusStore | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Connect to NATS and make sure the status bucket exists. Idempotent."""
        async with self._lock:
            if self._conn is not None:
                return
            conn = await transport.connect(self.settings, name=self.name)
            try:
                await transport.ensure_status_bucket(conn, self.settings)
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
            self._status = transport.StatusStore(conn)

    async def close(self) -> None:
        """Flush buffered writes and close the connection."""
        conn, self._conn, self._status = self._conn, None, None
        self.known_streams.clear()
        if conn is not None:
            await conn.close()

    @property
    def connection(self) -> transport.Connection:
        if self._conn is None:
            raise JetjobsError(f"app {self.name!r} is not connected; use 'async with app:' or 'await app.connect()'")
        return self._conn

    @property
    def status_store(self) -> transport.StatusStore:
        if self._status is None:
            raise JetjobsError(f"app {self.name!r} is not connected")
        return self._status

    @property
    def current(self) -> transport.Connection | None:
        """The connection, or None when not connected (for cleanup paths that must not raise)."""
        return self._conn

    @property
    def connected(self) -> bool:
        """Connected now (False before ``connect()``, after ``close()`` and while reconnecting)."""
        return self._conn is not None and self._conn.connected

    @property
    def closed(self) -> bool:
        """Never connected, or closed for good (a reconnecting connection is not closed)."""
        return self._conn is None or self._conn.closed
