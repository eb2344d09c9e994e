"""The unique-job lock bucket: key -> the job that holds it, as a lease.

A key's value names its holder and the time its lease ends (``until``, epoch
seconds); a holder renews it while its job runs. A lease past its end is free:
the next ``acquire`` takes it over with a compare-and-set, so a holder that died
frees its key by itself, with no one to release it. Each write also carries a
per-message TTL (``Nats-TTL``, server >= 2.11) a little longer than the lease,
so the server deletes abandoned keys; correctness does not depend on when it
does (nats-server 2.15.1 was seen to expire only the first of several TTLs on
time). Reads are leader reads (no direct get), since they drive decisions.
Leases compare wall clocks of different hosts: keep them in sync (NTP).
"""

from __future__ import annotations

import contextlib
import json
import time

import nats.js.errors

from .._settings import Settings
from .._wire import now_iso
from ._connection import Connection
from ._kvstore import KeyValueStore

_EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
_WRONG_LAST = (10071, 10164)  # JSStreamWrongLastSequence(Constant)Err


class LockStore:
    """Take, refresh and release unique keys."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self._conn = conn
        self._settings = settings
        self.kv = KeyValueStore(conn, conn.names.locks_bucket)
        self._ready = False

    async def ensure(self) -> None:
        if not self._ready:
            await self.kv.ensure(
                description="jetjobs unique-job keys", replicas=self._settings.status_replicas, direct=False
            )
            self._ready = True

    async def acquire(self, key: str, job_id: str, readable: str, ttl_s: float) -> str | None:
        """Take ``key`` for ``job_id`` (or refresh it if it holds it already); else the holder's id."""
        await self.ensure()
        kv = await self.kv.handle()
        value = json.dumps({"job": job_id, "key": readable, "at": now_iso(), "until": time.time() + ttl_s}).encode()
        last = 0
        for _ in range(8):
            if await self._put(key, value, last, ttl_s):
                return None
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError as exc:
                # Released (a delete marker is the last revision) or expired (nothing stored).
                marker = getattr(exc, "entry", None)
                last = int(marker.revision or 0) if marker is not None else 0
                continue
            holder = _live_holder(entry.value)
            if holder is not None and holder != job_id:
                return holder
            last = int(entry.revision or 0)  # ours (renew it) or a lapsed lease (take it over)
        return await self.holder(key) or "?"

    async def _put(self, key: str, value: bytes, last: int, ttl_s: float) -> bool:
        """Write if the key's last revision is ``last`` (0: none), with its own TTL."""
        subject = f"$KV.{self.kv.bucket}.{key}"
        try:
            await self._conn.js.publish(
                subject,
                value,
                headers={_EXPECTED_LAST: str(last)},
                msg_ttl=float(round(ttl_s) + 2),  # the server's cleanup; whole seconds
                timeout=self._settings.request_timeout_s,
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code in _WRONG_LAST:
                return False
            raise
        return True

    async def refresh(self, key: str, job_id: str, readable: str, ttl_s: float) -> bool:
        """Extend ``job_id``'s hold of ``key``; False if it does not hold it (any more)."""
        return await self.acquire(key, job_id, readable, ttl_s) is None

    async def release(self, key: str, job_id: str) -> None:
        """Free ``key`` if ``job_id`` holds it (compare-and-delete)."""
        await self.ensure()
        entry = await self.kv.get(key)
        if entry is None or entry.value is None or json.loads(entry.value).get("job") != job_id:
            return
        kv = await self.kv.handle()
        # Taken over meanwhile (it had expired)? Then it is not ours to free.
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
            await kv.delete(key, last=entry.revision)

    async def holder(self, key: str) -> str | None:
        await self.ensure()
        entry = await self.kv.get(key)
        return _live_holder(entry.value) if entry is not None else None


def _live_holder(value: bytes | None) -> str | None:
    """The job holding a lease that has not ended; None if free."""
    if not value:
        return None
    try:
        lease = json.loads(value)
    except ValueError:
        return None
    if float(lease.get("until", 0)) <= time.time():
        return None
    return str(lease.get("job", "")) or None
