"""The status bucket: job id -> JSON status record."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable

from .._names import is_valid_job_id
from .._status import JobState
from ..errors import JobNotFound
from ._acks import AfterAck, PublishFailed
from ._connection import Connection
from ._kvstore import KeyValueStore

# KV "create": store only if the key has no value yet (same header nats-py's kv.create uses).
_EXPECTED_SEQ = "Nats-Expected-Last-Subject-Sequence"
# JetStream's err_codes when that condition does not hold: the key is at another revision, or
# (clustered) another write of the key is in flight at the leader.
_CONFLICTS = (10071, 10164)
_REPLACE_TRIES = 8
_CONFLICT_PAUSE_S = 0.05


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

    async def first_of_run(self, job_id: str, record: bytes, enqueued_at: str | None) -> Awaitable[bool]:
        """Write the first record of a run whose job id may have run before; await the result to finish.

        The create-only write goes out now (many can be in flight); the returned awaitable
        waits for its answer. When a record is already stored it is replaced only if it is
        the *final* record of an earlier run (its ``enqueued_at`` older than ours), by
        compare-and-set on its revision: a record of this run (a fast worker's ``running``
        or result) and a run still in progress are kept. True when our record was stored.

        Call it only for a message the queue stored as new (not a duplicate): a worker then
        runs it and writes after us, so the record never stays ``queued`` for good.

        Example::

            done = await store.first_of_run("order-7", queued_record, "2026-12-04T18:00:00.000000Z")
            replaced = await done
        """
        sent = await self._conn.acks.publish_nowait(self._prefix + job_id, record, {_EXPECTED_SEQ: "0"})
        return self._replace_earlier_run(job_id, record, enqueued_at, sent)

    async def _replace_earlier_run(
        self, job_id: str, record: bytes, enqueued_at: str | None, sent: Awaitable[bytes]
    ) -> bool:
        try:
            await sent
            return True
        except PublishFailed as exc:
            if exc.err_code not in _CONFLICTS:
                raise self._conn.unreachable(None if not exc.err_code and not exc.status else exc) or exc from None
        for attempt in range(_REPLACE_TRIES):
            if attempt:
                await asyncio.sleep(_CONFLICT_PAUSE_S * attempt)  # let the write in flight land
            entry = await self.kv.get(job_id)
            if entry is None or entry.value is None:  # expired meanwhile
                if await self.kv.create(job_id, record) is not None:
                    return True
                continue
            if not _earlier_final(entry.value, enqueued_at):
                return False
            if await self.kv.update(job_id, record, entry.revision) is not None:
                return True
            # A worker wrote meanwhile (or the read came from a lagging replica): read again.
        return False

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


def _earlier_final(stored: bytes, enqueued_at: str | None) -> bool:
    """Is ``stored`` the final record of a run enqueued before ``enqueued_at``?"""
    try:
        info = json.loads(stored)
        final = JobState(info["state"]).is_final
    except (ValueError, KeyError, TypeError):
        return False  # not a record this version writes: leave it to the worker
    theirs = info.get("enqueued_at")
    return final and enqueued_at is not None and (not isinstance(theirs, str) or theirs < enqueued_at)


def _checked(job_id: str) -> str:
    """A job id that can be a KV key; JobNotFound (naming it) for one no job can have."""
    if not is_valid_job_id(job_id):
        raise JobNotFound(
            f"no job {job_id!r}: not a valid job id (letters, digits, '_', '-', '=' and single dots, at most 200)"
        )
    return job_id
