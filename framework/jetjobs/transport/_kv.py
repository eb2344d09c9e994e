"""The status bucket: job id -> JSON status record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from ..errors import JetjobsError
from ._connection import Connection

# KV "create": store only if the key has no value yet (same header nats-py's kv.create uses).
_CREATE_ONLY = {"Nats-Expected-Last-Subject-Sequence": "0"}


class StatusStore:
    """Reads and writes status records.

    The worker's writes are plain publishes on the connection: the record for
    "running" is fire-and-forget, the final record is awaited before the job is
    acked, so a result is durable before its job leaves the queue.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._bucket = conn.names.status_bucket
        self._prefix = f"$KV.{self._bucket}."
        self._kv: KeyValue | None = None

    def subject(self, job_id: str) -> str:
        return self._prefix + job_id

    async def put_nowait(self, job_id: str, record: bytes) -> None:
        """Buffer a write without waiting for the server's acknowledgement."""
        await self._conn.nc.publish(self._prefix + job_id, record)

    async def create_nowait(self, job_id: str, record: bytes) -> None:
        """Write only if nothing is stored for the job yet (a worker may have been faster)."""
        await self._conn.nc.publish(self._prefix + job_id, record, headers=_CREATE_ONLY)

    async def update_nowait(self, job_id: str, record: bytes, revision: int) -> None:
        """Write only if the stored record is still at ``revision`` (a worker may have been faster)."""
        headers = {"Nats-Expected-Last-Subject-Sequence": str(revision)}
        await self._conn.nc.publish(self._prefix + job_id, record, headers=headers)

    async def revision(self, job_id: str) -> int:
        """The revision of the stored record; 0 when there is none."""
        kv = await self._bucket_handle()
        try:
            entry = await kv.get(job_id)
        except nats.js.errors.KeyNotFoundError:
            return 0
        return int(entry.revision or 0)

    async def put(self, job_id: str, record: bytes) -> None:
        """Write and wait until the server has stored it."""
        future = await self._conn.js.publish_async(self._prefix + job_id, record)
        await asyncio.wait_for(future, self._conn.settings.request_timeout_s)

    async def get(self, job_id: str) -> bytes | None:
        kv = await self._bucket_handle()
        try:
            entry = await kv.get(job_id)
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value or None

    async def delete(self, job_id: str) -> None:
        kv = await self._bucket_handle()
        await kv.delete(job_id)

    async def watch(self, job_id: str) -> AsyncGenerator[bytes, None]:
        """Yield the current record (if any), then every update, until the caller stops."""
        kv = await self._bucket_handle()
        watcher = await kv.watch(job_id)
        try:
            while True:
                try:
                    entry = await watcher.updates(timeout=3600)  # type: ignore[no-untyped-call]
                except nats.errors.TimeoutError:
                    continue
                if entry is not None and entry.value:
                    yield entry.value
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]

    async def _bucket_handle(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self._conn.js.key_value(self._bucket)
            except nats.js.errors.BucketNotFoundError:
                raise JetjobsError(f"status bucket {self._bucket} does not exist; no job was enqueued") from None
        return self._kv
