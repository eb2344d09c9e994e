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
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from ..errors import JetjobsError
from ._protocol import DirectSubscriptions

_SWEEP_S = 1.0


log = logging.getLogger("jetjobs.transport")


class PublishFailed(JetjobsError):
    """JetStream refused a publish (``err_code`` from its reply), or never answered."""

    def __init__(self, message: str, err_code: int = 0, status: str = "") -> None:
        super().__init__(message)
        self.err_code = err_code
        self.status = status


AfterAck = Callable[["PublishFailed | None"], Awaitable[None]]


class AckedPublisher:
    """``await publish(...)`` returns once the stream stored the message (or raises PublishFailed)."""

    def __init__(self, nc: Client, direct: DirectSubscriptions, *, timeout_s: float) -> None:
        # The client and its direct subscriptions, not the Connection that owns this
        # publisher: the Connection builds it, so it must not import the Connection back.
        self._nc = nc
        self._direct = direct
        self._timeout_s = timeout_s
        self._prefix = ""
        self._tokens = itertools.count()
        self._waiting: dict[str, tuple[float, asyncio.Future[bytes] | AfterAck]] = {}
        self._callbacks: set[asyncio.Task[None]] = set()
        self._answered = asyncio.Event()
        self._sub: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox() + "."
        self._sub = await self._direct.subscribe(self._prefix + "*", self._on_reply)
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

    @property
    def waiting(self) -> int:
        """Publishes sent whose answer has not come yet."""
        return len(self._waiting)

    async def publish(self, subject: str, data: bytes, headers: Mapping[str, str] | None = None) -> bytes:
        """Publish and wait for the PubAck; return its raw JSON."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await self._send(subject, data, headers, future)
        return await future

    async def publish_nowait(
        self, subject: str, data: bytes, headers: Mapping[str, str] | None = None
    ) -> asyncio.Future[bytes]:
        """Publish; the returned future resolves with the PubAck (for many publishes in flight)."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await self._send(subject, data, headers, future)
        return future

    async def publish_then(self, subject: str, data: bytes, then: AfterAck, *, trusted: bool = False) -> None:
        """Publish and return at once; ``then(error or None)`` runs when the PubAck (or a failure) comes.

        The worker uses it to ack a job only once its result is stored, without
        keeping the job's slot (and task) waiting for that round trip. ``trusted``:
        the subject is built from checked names (e.g. a KV key of a checked job id). ``then``
        runs on the connection's read loop: it may publish, but must not wait
        for another reply.
        """
        await self._send(subject, data, None, then, trusted=trusted)

    async def drain(self, timeout_s: float) -> None:
        """Wait until every publish has its answer (or ``timeout_s`` passed), callbacks included."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._waiting or self._callbacks:
                    self._answered.clear()
                    await self._answered.wait()
        except TimeoutError:
            log.warning("%d publishes still unanswered after %.0fs", len(self._waiting), timeout_s)

    async def _send(
        self,
        subject: str,
        data: bytes,
        headers: Mapping[str, str] | None,
        waiter: asyncio.Future[bytes] | AfterAck,
        *,
        trusted: bool = False,
    ) -> None:
        if self._sub is None:
            await self.start()
        token = str(next(self._tokens))
        self._waiting[token] = (time.monotonic(), waiter)
        try:
            if trusted and not headers:  # a subject built from checked names: no re-validation
                await self._direct.publish(subject, data, self._prefix + token)
            else:
                await self._nc.publish(subject, data, reply=self._prefix + token, headers=dict(headers or {}) or None)
        except BaseException:
            self._waiting.pop(token, None)
            raise

    async def _on_reply(self, subject: str, reply: str, data: bytes, headers: dict[str, str] | None) -> None:
        waiting = self._waiting.pop(subject[len(self._prefix) :], None)
        if waiting is None:
            return
        status = headers.get("Status") if headers else None
        error: PublishFailed | None = None
        if status:  # 503: no stream listens on the subject
            error = PublishFailed(f"no stream answered (status {status})", status=status)
        elif b'"error"' in data:
            detail = json.loads(data)["error"]
            error = PublishFailed(str(detail.get("description")), int(detail.get("err_code", 0)))
        await self._resolve(waiting[1], error, data)

    async def _resolve(
        self, waiter: asyncio.Future[bytes] | AfterAck, error: PublishFailed | None, data: bytes
    ) -> None:
        self._answered.set()
        if isinstance(waiter, asyncio.Future):
            if waiter.done():
                return
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(data)
            return
        try:
            await waiter(error)
        except Exception:
            log.exception("callback after a publish failed")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_S)
            expired = time.monotonic() - self._timeout_s
            for token, (sent, waiter) in list(self._waiting.items()):
                if sent < expired:
                    del self._waiting[token]
                    self._spawn(waiter, PublishFailed("no acknowledgement from the server in time"))

    def _fail_all(self, error: PublishFailed) -> None:
        waiting, self._waiting = self._waiting, {}
        for _, waiter in waiting.values():
            self._spawn(waiter, error)

    def _spawn(self, waiter: asyncio.Future[bytes] | AfterAck, error: PublishFailed) -> None:
        task = asyncio.get_running_loop().create_task(self._resolve(waiter, error, b""))
        self._callbacks.add(task)
        task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Task[None]) -> None:
        self._callbacks.discard(task)
        self._answered.set()
