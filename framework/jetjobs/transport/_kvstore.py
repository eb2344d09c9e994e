"""A small key-value facade over a JetStream KV bucket: revisions, CAS and watches."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from ..errors import ConfigError, JetjobsError
from ._connection import Connection

_STREAM_IN_USE = 10058
_DELETED = ("DEL", "PURGE")


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    value: bytes | None  # None: deleted
    revision: int


class KeyValueStore:
    """One bucket. ``get``/``update`` give optimistic concurrency through revisions."""

    def __init__(self, conn: Connection, bucket: str) -> None:
        self._conn = conn
        self.bucket = bucket
        self._kv: KeyValue | None = None

    async def ensure(
        self, *, description: str, replicas: int = 1, ttl_s: float | None = None, direct: bool = True
    ) -> None:
        """Create the bucket if it does not exist.

        ``direct=False`` for buckets whose reads drive decisions: direct gets may be
        answered by a follower that lags (no read-after-write, ADR-8), leader gets may not.
        """
        # Looked up first: a service without create rights starts once the bucket exists.
        try:
            self._kv = await self._lookup()
            return
        except nats.js.errors.BucketNotFoundError:
            pass
        try:
            create = self._conn.js.create_key_value(
                KeyValueConfig(
                    bucket=self.bucket,
                    description=description,
                    history=1,
                    ttl=ttl_s,
                    replicas=replicas,
                    storage=StorageType.FILE,
                    direct=direct,
                )
            )
            self._kv = await self._conn.violations.call(f"$JS.API.STREAM.CREATE.KV_{self.bucket}", create)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != _STREAM_IN_USE:  # created concurrently by another service
                raise ConfigError(f"cannot create bucket {self.bucket}: {exc.description}") from None
            self._kv = await self._lookup()

    async def get(self, key: str) -> Entry | None:
        kv = await self._handle()
        try:
            entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        if entry.operation in _DELETED or not entry.value:
            return None
        return Entry(key, entry.value, int(entry.revision or 0))

    async def put(self, key: str, value: bytes) -> int:
        kv = await self._handle()
        return int(await kv.put(key, value))

    async def create(self, key: str, value: bytes) -> int | None:
        """Store only if the key has no value; None when it has one."""
        kv = await self._handle()
        try:
            return int(await kv.create(key, value))
        except nats.js.errors.KeyWrongLastSequenceError:
            return None

    async def update(self, key: str, value: bytes, revision: int) -> int | None:
        """Store only if the key is still at ``revision``; None on a conflict."""
        kv = await self._handle()
        try:
            return int(await kv.update(key, value, last=revision))
        except nats.js.errors.KeyWrongLastSequenceError:
            return None

    async def delete(self, key: str) -> None:
        kv = await self._handle()
        await kv.delete(key)

    async def items(self, prefix: str = "") -> list[Entry]:
        """Every live entry whose key starts with ``prefix`` (``a.`` style prefixes)."""
        return await self.matching(f"{prefix}>" if prefix else ">")

    async def matching(self, pattern: str) -> list[Entry]:
        """Every live entry whose key matches the subject pattern (``*.meta``, ``run1.>``)."""
        # One ordered consumer over the matching keys (nats-py's keys(filters=...)
        # matches substrings, not subject wildcards, and needs a get per key).
        kv = await self._handle()
        watcher = await kv.watch(pattern, ignore_deletes=True)
        entries = []
        try:
            while (entry := await watcher.updates(timeout=self._conn.settings.request_timeout_s)) is not None:  # type: ignore[no-untyped-call]
                if entry.value and entry.operation not in _DELETED:
                    entries.append(Entry(entry.key, entry.value, int(entry.revision or 0)))
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        return entries

    async def watch(self, pattern: str = ">") -> AsyncGenerator[Entry, None]:
        """Yield the current value of each key matching ``pattern`` (a key, or ``prefix.>``),
        then every change; deletes have value None."""
        kv = await self._handle()
        watcher = await kv.watch(pattern)
        try:
            # Iterating (a plain queue get) rather than ``updates(timeout=...)``: on
            # Python 3.11 its ``asyncio.wait_for`` can swallow a cancellation that
            # lands together with an update, and the watch would then outlive a
            # stopping scheduler or a ``result()`` past its timeout.
            async for entry in watcher:
                if entry is None:
                    continue  # end of the initial values
                value = None if entry.operation in _DELETED else entry.value
                yield Entry(entry.key, value or None, int(entry.revision or 0))
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]

    async def _lookup(self) -> KeyValue:
        return await self._conn.violations.call(
            f"$JS.API.STREAM.INFO.KV_{self.bucket}", self._conn.js.key_value(self.bucket)
        )

    async def _handle(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self._lookup()
            except nats.js.errors.BucketNotFoundError:
                raise JetjobsError(f"bucket {self.bucket} does not exist yet") from None
        return self._kv
