"""A small key-value facade over a JetStream KV bucket: revisions, CAS and watches."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.js.api import DeliverPolicy, KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from ..errors import ConfigError, JetjobsError
from ._connection import Connection

_STREAM_IN_USE = 10058
# "wrong last sequence" without a number: a clustered stream's leader refuses a conditional write
# while another write of the same key is in flight. A conflict like any other: read, then decide.
_IN_FLIGHT = 10164
_READ_CONSUMER_INACTIVE_S = 5.0
_DELETED = ("DEL", "PURGE")
_KV_OP = "KV-Operation"
_MARKER = "Nats-Marker-Reason"  # a per-message TTL's delete marker (server 2.11+)


class BucketMissing(JetjobsError):
    """The bucket has not been created yet (by the service that owns it)."""


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
            with self._conn.reaching():
                entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        if entry.operation in _DELETED or not entry.value:
            return None
        return Entry(key, entry.value, int(entry.revision or 0))

    async def put(self, key: str, value: bytes) -> int:
        kv = await self._handle()
        with self._conn.reaching():
            return int(await kv.put(key, value))

    async def create(self, key: str, value: bytes) -> int | None:
        """Store only if the key has no value; None when it has one (or a write of it is in flight)."""
        kv = await self._handle()
        try:
            with self._conn.reaching():
                return int(await kv.create(key, value))
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        except nats.js.errors.APIError as exc:
            if exc.err_code == _IN_FLIGHT:
                return None
            raise

    async def update(self, key: str, value: bytes, revision: int) -> int | None:
        """Store only if the key is still at ``revision``; None on a conflict (or a write of it in flight)."""
        kv = await self._handle()
        try:
            with self._conn.reaching():
                return int(await kv.update(key, value, last=revision))
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        except nats.js.errors.APIError as exc:
            if exc.err_code == _IN_FLIGHT:
                return None
            raise

    async def delete(self, key: str) -> None:
        kv = await self._handle()
        await kv.delete(key)

    async def items(self, prefix: str = "") -> list[Entry]:
        """Every live entry whose key starts with ``prefix`` (``a.`` style prefixes)."""
        return await self.matching(f"{prefix}>" if prefix else ">")

    async def matching(self, pattern: str) -> list[Entry]:
        """Every live entry whose key matches the subject pattern (``*.meta``, ``run1.>``)."""
        # One ordered consumer over the last message of each matching key. Not nats-py's
        # kv.watch: it decides "no keys" when the consumer reports nothing pending and the
        # client has received nothing yet, which is also true when the server has just pushed
        # every message and the client has not read them (measured: ~0.5% of scans of three
        # keys came back empty under load). The consumer's delivered + pending count says
        # how many messages to expect; the last one says num_pending 0.
        await self._handle()  # JetjobsError when the bucket does not exist yet
        stream, prefix = f"KV_{self.bucket}", f"$KV.{self.bucket}."
        sub = await self._conn.js.subscribe(
            prefix + pattern,
            stream=stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            inactive_threshold=_READ_CONSUMER_INACTIVE_S,
        )
        entries: list[Entry] = []
        name = None
        try:
            info = await sub.consumer_info()
            name = info.name
            expected = int(info.num_pending or 0) + int(info.delivered.consumer_seq if info.delivered else 0)
            while expected:
                try:
                    msg = await sub.next_msg(timeout=self._conn.settings.request_timeout_s)
                except nats.errors.TimeoutError:
                    raise JetjobsError(f"reading bucket {self.bucket}: no answer from the server") from None
                headers = msg.headers or {}
                if msg.data and headers.get(_KV_OP) not in _DELETED and _MARKER not in headers:
                    entries.append(Entry(msg.subject[len(prefix) :], msg.data, int(msg.metadata.sequence.stream)))
                if msg.metadata.num_pending == 0:
                    break
        finally:
            with contextlib.suppress(nats.errors.Error):  # connection already closing
                await sub.unsubscribe()
            await self._delete_consumer(stream, name)
        return entries

    async def _delete_consumer(self, stream: str, name: str | None) -> None:
        """Delete a one-shot read's consumer now.

        nats-py only unsubscribes; the server removes the consumer after its inactive threshold,
        and refuses new consumers on the stream past its limit (err_code 10026 on the 1,001st
        here): a burst of listings (the web UI lists workflow runs with one read per run) would
        fill it. The short threshold above is the fallback should this delete fail.
        """
        if name:
            with contextlib.suppress(nats.errors.Error):
                await self._conn.js.delete_consumer(stream, name)

    async def watch(self, pattern: str = ">") -> AsyncGenerator[Entry, None]:
        """Yield the current value of each key matching ``pattern`` (a key, or ``prefix.>``),
        then every change; deletes have value None."""
        kv = await self._handle()
        with self._conn.reaching():
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

    async def handle(self) -> KeyValue:
        """The nats-py bucket itself, for the transport modules that need more than this facade."""
        return await self._handle()

    async def _lookup(self) -> KeyValue:
        return await self._conn.violations.call(
            f"$JS.API.STREAM.INFO.KV_{self.bucket}", self._conn.js.key_value(self.bucket)
        )

    async def _handle(self) -> KeyValue:
        if self._kv is None:
            try:
                with self._conn.reaching():
                    self._kv = await self._lookup()
            except nats.js.errors.BucketNotFoundError:
                raise BucketMissing(f"bucket {self.bucket} does not exist yet") from None
        return self._kv
