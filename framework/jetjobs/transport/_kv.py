"""The status bucket: job id -> JSON status record."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from .._names import is_valid_job_id
from ..errors import JobNotFound
from ._acks import AfterAck
from ._connection import Connection
from ._kvstore import KeyValueStore

# KV "create": store only if the key has no value yet (same header nats-py's kv.create uses).
_EXPECTED_SEQ = "Nats-Expected-Last-Subject-Sequence"


class StatusStore:
    """Reads and writes status records.

    The worker's writes are plain publishes on the connection: the record for
    "running" is fire-and-forget, the final record is awaited before the job is
    acked, so a result is durable before its job leaves the queue. The
    conditional writes (``create_nowait``, ``update_nowait``) keep a producer from
    overwriting what a faster worker already wrote.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._prefix = f"$KV.{conn.names.status_bucket}."
        self.kv = KeyValueStore(conn, conn.names.status_bucket)

    async def put_nowait(self, job_id: str, record: bytes) -> None:
        """Buffer a write without waiting for the server's acknowledgement."""
        if is_valid_job_id(job_id):  # the subject is known to be valid: no second check
            await self._conn.direct.publish(self._prefix + job_id, record, "")
        else:
            await self._conn.nc.publish(self._prefix + job_id, record)

    async def create_nowait(self, job_id: str, record: bytes) -> None:
        """Write only if nothing is stored for the job yet."""
        await self.update_nowait(job_id, record, 0)

    async def update_nowait(self, job_id: str, record: bytes, revision: int) -> None:
        """Write only if the stored record is still at ``revision`` (0: none stored)."""
        await self._conn.nc.publish(self._prefix + job_id, record, headers={_EXPECTED_SEQ: str(revision)})

    async def put(self, job_id: str, record: bytes) -> None:
        """Write and wait until the server has stored it."""
        await self._conn.acks.publish(self._prefix + job_id, record)

    async def put_then(self, job_id: str, record: bytes, then: AfterAck) -> None:
        """Write; ``then(error or None)`` runs once the server has stored it (or could not)."""
        # The worker's job ids are checked when the message is decoded.
        await self._conn.acks.publish_then(self._prefix + job_id, record, then, trusted=is_valid_job_id(job_id))

    async def get(self, job_id: str) -> bytes | None:
        entry = await self.kv.get(_checked(job_id))
        return entry.value if entry is not None else None

    async def revision(self, job_id: str) -> int:
        """The revision of the stored record; 0 when there is none."""
        entry = await self.kv.get(_checked(job_id))
        return entry.revision if entry is not None else 0

    async def watch(self, job_id: str) -> AsyncGenerator[bytes, None]:
        """Yield the current record (if any), then every update, until the caller stops."""
        async for entry in self.kv.watch(_checked(job_id)):
            if entry.value is not None:
                yield entry.value


def _checked(job_id: str) -> str:
    """A job id that can be a KV key; JobNotFound (naming it) for one no job can have."""
    if not is_valid_job_id(job_id):
        raise JobNotFound(
            f"no job {job_id!r}: not a valid job id (letters, digits, '_', '-', '=' and single dots, at most 200)"
        )
    return job_id
