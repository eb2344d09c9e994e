"""NATS objects of the workflow engine: run state bucket, fan-in counters, event log, outputs.

Decisions (a step's state, a join, a run's end) use leader-evaluated writes only:
KV create / compare-and-set and counter increments (ADR-49). The run bucket is
created without direct get, so ``get`` is answered by the stream leader.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Callable

import nats.aio.msg
import nats.aio.subscription
import nats.errors
import nats.js.errors
from nats.js.api import DeliverPolicy, ObjectStoreConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.object_store import ObjectStore

from .._settings import Settings
from ..errors import JetjobsError
from ._connection import Connection
from ._kvstore import KeyValueStore
from ._streams import ensure_stream

Callback = Callable[[str], None]
_INCR = "Nats-Incr"
_MSG_ID = "Nats-Msg-Id"


class WorkflowTransport:
    """The buckets and streams one namespace's workflows live in."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self._conn = conn
        self._settings = settings
        names = conn.names
        self.defs = KeyValueStore(conn, names.workflow_defs_bucket)
        self.runs = KeyValueStore(conn, names.workflow_runs_bucket)
        self._objects: ObjectStore | None = None
        self._ready = False

    @property
    def conn(self) -> Connection:
        return self._conn

    async def ensure(self) -> None:
        """Create every workflow bucket, stream and the object store that is missing (idempotent,
        once per process); ``jetjobs provision`` runs it so workers need no create rights."""
        if self._ready:
            return
        conn, s, names = self._conn, self._settings, self._conn.names
        retention = s.workflow_retention_s
        await self.defs.ensure(description="jetjobs workflow definitions", replicas=s.workflow_replicas)
        await self.runs.ensure(
            description="jetjobs workflow runs", replicas=s.workflow_replicas, ttl_s=retention, direct=False
        )
        await ensure_stream(
            conn,
            StreamConfig(
                name=names.workflow_join_stream,
                description="jetjobs workflow fan-in counters",
                subjects=[names.workflow_joins()],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                num_replicas=s.workflow_replicas,
                max_age=retention,
                # Counter streams take no per-message TTL; a parent's increment is
                # deduplicated by its msg id for this long (runs verify joins anyway).
                duplicate_window=min(retention, 86_400.0),
                allow_msg_counter=True,
            ),
            update=False,
        )
        await ensure_stream(
            conn,
            StreamConfig(
                name=names.workflow_events_stream,
                description="jetjobs workflow run logs",
                subjects=[names.workflow_events()],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                num_replicas=s.workflow_replicas,
                max_age=retention,
                duplicate_window=120,
            ),
            update=False,
        )
        await self._object_store()
        self._ready = True

    async def increment(self, run_id: str, key: str, msg_id: str) -> int:
        """Add one to a run's counter ``key`` (once per ``msg_id``) and return its value."""
        subject = self._conn.names.workflow_join(run_id, key)
        headers = {_INCR: "+1", _MSG_ID: msg_id}
        try:
            reply = await self._conn.nc.request(subject, b"", headers=headers, timeout=self._settings.request_timeout_s)
        except nats.errors.NoRespondersError:
            raise JetjobsError("workflow counters stream is missing; start a worker or call app.provision()") from None
        answer = json.loads(reply.data)
        if "error" in answer:
            raise JetjobsError(f"workflow counter {key} of run {run_id}: {answer['error'].get('description')}")
        if answer.get("val") is not None and not answer.get("duplicate"):
            return int(answer["val"])
        return await self.counter(run_id, key)  # a duplicate's ack carries no value

    async def counter(self, run_id: str, key: str) -> int:
        subject = self._conn.names.workflow_join(run_id, key)
        try:
            msg = await self._conn.js.get_last_msg(self._conn.names.workflow_join_stream, subject)
        except nats.js.errors.NotFoundError:
            return 0
        return int(json.loads(msg.data or b"{}").get("val", 0))

    async def purge_counters(self, run_id: str) -> None:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self._conn.js.purge_stream(
                self._conn.names.workflow_join_stream, subject=self._conn.names.workflow_joins(run_id)
            )

    async def event(self, run_id: str, data: bytes, msg_id: str) -> None:
        """Append one record to the run's log, deduplicated by ``msg_id``.

        Not acknowledged: the log is informative (the run's state is in the bucket), and
        waiting for the stream would add a round trip to every step.
        """
        await self._conn.nc.publish(self._conn.names.workflow_events(run_id), data, headers={_MSG_ID: msg_id})

    async def events(self, run_id: str, *, follow: bool = False) -> AsyncGenerator[bytes, None]:
        """The run's log from the start; with ``follow``, then every new record until cancelled."""
        subject = self._conn.names.workflow_events(run_id)
        try:
            last = await self._conn.js.get_last_msg(self._conn.names.workflow_events_stream, subject)
            last_seq = int(last.seq or 0)
        except nats.js.errors.NotFoundError:
            last_seq = 0
        if not follow and last_seq == 0:
            return
        sub = await self._conn.js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        try:
            async for msg in sub.messages:
                yield msg.data
                if not follow and msg.metadata.sequence.stream >= last_seq:
                    return
        finally:
            await sub.unsubscribe()

    async def put_object(self, name: str, data: bytes) -> None:
        store = await self._object_store()
        await store.put(name, data)

    async def get_object(self, name: str) -> bytes:
        store = await self._object_store()
        try:
            result = await store.get(name)
        except nats.js.errors.ObjectNotFoundError:
            raise JetjobsError(f"workflow output {name} has expired or was deleted") from None
        return bytes(result.data or b"")

    async def _object_store(self) -> ObjectStore:
        if self._objects is None:
            bucket = self._conn.names.workflow_objects_bucket
            calls = self._conn.violations
            try:
                self._objects = await calls.call(
                    f"$JS.API.STREAM.INFO.OBJ_{bucket}", self._conn.js.object_store(bucket)
                )
            except nats.js.errors.BucketNotFoundError:
                create = self._conn.js.create_object_store(
                    bucket,
                    ObjectStoreConfig(
                        bucket=bucket,
                        description="jetjobs large workflow step outputs",
                        ttl=self._settings.workflow_retention_s,
                        storage=StorageType.FILE,
                        replicas=self._settings.workflow_replicas,
                    ),
                )
                self._objects = await calls.call(f"$JS.API.STREAM.CREATE.OBJ_{bucket}", create)
        return self._objects

    async def broadcast_cancel(self, run_id: str) -> None:
        await self._conn.nc.publish(self._conn.names.workflow_cancel_subject, run_id.encode())

    async def on_cancel(self, callback: Callback) -> nats.aio.subscription.Subscription:
        async def handler(msg: nats.aio.msg.Msg) -> None:
            callback(msg.data.decode(errors="replace"))

        return await self._conn.nc.subscribe(self._conn.names.workflow_cancel_subject, cb=handler)
