"""Publishing to JetStream and awaiting its acknowledgement, cheaply.

``js.publish`` (a request with a timer per call) and ``js.publish_async`` (a
semaphore, a token and a dataclass parse per ack) cost tens of microseconds of
Python per message. Here one inbox subscription resolves one future per publish
and only looks for an error in the reply; a sweeper fails the futures whose
reply never came (a lost connection), instead of a timer per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ..errors import JetjobsError

if TYPE_CHECKING:
    from ._connection import Connection

_SWEEP_S = 1.0


class PublishFailed(JetjobsError):
    """JetStream refused a publish (``err_code`` from its reply), or never answered."""

    def __init__(self, message: str, err_code: int = 0, status: str = "") -> None:
        super().__init__(message)
        self.err_code = err_code
        self.status = status


class AckedPublisher:
    """``await publish(...)`` returns once the stream stored the message (or raises PublishFailed)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._prefix = ""
        self._tokens = itertools.count()
        self._waiting: dict[str, tuple[float, asyncio.Future[bytes]]] = {}
        self._sub: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._prefix = self._conn.new_inbox() + "."
        self._sub = await self._conn.nc.subscribe(self._prefix + "*", cb=self._on_reply)
        self._sweeper = asyncio.create_task(self._sweep(), name="jetjobs-ack-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        self._fail_all(PublishFailed("connection closed before the server acknowledged"))

    async def publish(self, subject: str, data: bytes, headers: Mapping[str, str] | None = None) -> bytes:
        """Publish and wait for the PubAck; return its raw JSON."""
        if self._sub is None:
            await self.start()
        token = str(next(self._tokens))
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[token] = (time.monotonic(), future)
        try:
            await self._conn.nc.publish(subject, data, reply=self._prefix + token, headers=dict(headers or {}) or None)
        except BaseException:
            self._waiting.pop(token, None)
            raise
        return await future

    async def _on_reply(self, msg: Msg) -> None:
        waiting = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if waiting is None or waiting[1].done():
            return
        future = waiting[1]
        status = (msg.headers or {}).get("Status")
        if status:  # 503: no stream listens on the subject
            future.set_exception(PublishFailed(f"no stream answered (status {status})", status=status))
        elif b'"error"' in msg.data:
            error = json.loads(msg.data)["error"]
            future.set_exception(PublishFailed(str(error.get("description")), int(error.get("err_code", 0))))
        else:
            future.set_result(msg.data)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_S)
            expired = time.monotonic() - self._conn.settings.request_timeout_s
            for token, (sent, future) in list(self._waiting.items()):
                if sent < expired:
                    del self._waiting[token]
                    if not future.done():
                        future.set_exception(PublishFailed("no acknowledgement from the server in time"))

    def _fail_all(self, error: PublishFailed) -> None:
        waiting, self._waiting = self._waiting, {}
        for _, future in waiting.values():
            if not future.done():
                future.set_exception(error)
