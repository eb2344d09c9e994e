"""Our own pull loop for one durable consumer.

nats-py's ``fetch()`` creates a task, a uuid and a wait_for per message. A
puller instead keeps one inbox subscription with a callback and sends pull
requests (``$JS.API.CONSUMER.MSG.NEXT``) sized by the caller, one at a time:

* ``drain(n)``: ``no_wait`` request for up to n messages; ends when n arrived or
  with status 404 (nothing more). When the consumer is at max_ack_pending the
  server parks it until capacity frees up.
* ``listen()``: one-message request that waits up to ``LISTEN_S`` (408 at expiry),
  so an idle worker gets a new job with no polling delay.

Status messages come back on the request's own reply subject, so a stale
request's 404/408 never ends the current one.
"""

from __future__ import annotations

import enum
import json
import logging
import time
from collections.abc import Callable

from nats.aio.subscription import Subscription

from ._connection import Connection
from ._delivery import Delivery

log = logging.getLogger("jetjobs.transport")

LISTEN_S = 5.0
_STALE_AFTER_S = LISTEN_S + 2.0


class Mode(enum.Enum):
    IDLE = "idle"
    DRAIN = "drain"
    LISTEN = "listen"


class Hint(enum.Enum):
    UNKNOWN = "unknown"
    EMPTY = "empty"
    BACKLOG = "backlog"


class Puller:
    """Pull requests for one consumer; deliveries and state changes go to callbacks."""

    def __init__(
        self,
        conn: Connection,
        stream: str,
        consumer: str,
        *,
        on_delivery: Callable[[Delivery], None],
        on_change: Callable[[], None],
    ) -> None:
        self._conn = conn
        self.stream = stream
        self.consumer = consumer
        self._on_delivery = on_delivery
        self._on_change = on_change
        self._api = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = ""
        self._sub: Subscription | None = None
        self._seq = 0
        self._current = ""
        self._sent_at = 0.0
        self.mode = Mode.IDLE
        self.remaining = 0
        self.hint = Hint.UNKNOWN
        self.error: str | None = None
        self.last_activity = 0.0  # when the request in flight was sent or last answered

    async def start(self) -> None:
        self._inbox = self._conn.new_inbox()
        self._sub = await self._conn.direct.subscribe(f"{self._inbox}.*", self._on_msg)

    async def stop(self) -> None:
        """Unsubscribe: the server then drops our waiting requests (no interest)."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception as exc:  # closed connection: nothing left to unsubscribe
                log.debug("unsubscribe %s failed: %s", self.consumer, exc)
        self.reset()

    def reset(self) -> None:
        """Forget the request in flight (e.g. after a reconnect: the server lost it)."""
        self.mode = Mode.IDLE
        self.remaining = 0
        self._current = ""
        if self.hint is Hint.EMPTY:
            self.hint = Hint.UNKNOWN

    def is_stale(self, now: float) -> bool:
        return self.mode is Mode.LISTEN and now - self._sent_at > _STALE_AFTER_S

    async def drain(self, batch: int) -> None:
        await self._request(Mode.DRAIN, batch, {"batch": batch, "no_wait": True})

    async def listen(self) -> None:
        await self._request(Mode.LISTEN, 1, {"batch": 1, "expires": int(LISTEN_S * 1e9)})

    async def _request(self, mode: Mode, batch: int, body: dict[str, object]) -> None:
        if self._sub is None or self.mode is not Mode.IDLE:
            return
        self._seq += 1
        self._current = f"{self._inbox}.{self._seq}"
        self.mode, self.remaining, self._sent_at = mode, batch, time.monotonic()
        self.last_activity = self._sent_at
        log.debug("pull %s %s batch=%d reply=%s", self.consumer, mode.value, batch, self._current)
        try:
            await self._conn.nc.publish(self._api, json.dumps(body).encode(), reply=self._current)
        except Exception as exc:
            self.reset()
            self.error = f"pull request failed: {exc}"
            raise

    async def _on_msg(self, subject: str, reply: str, data: bytes, headers: dict[str, str] | None) -> None:
        if subject.startswith(self._inbox):
            self._on_status(subject, headers or {})
            return
        # Every message answers the request in flight, whatever its bytes: one left
        # uncounted would keep this puller waiting for it forever.
        if self.mode is not Mode.IDLE:
            self.remaining -= 1
            if self.remaining <= 0:
                self._end()
        self.last_activity = time.monotonic()
        try:
            delivery = Delivery(self._conn.nc, subject, reply, data, headers, self._conn.direct.publish)
        except (IndexError, ValueError):
            log.warning("ignoring a message without a JetStream ack subject on %s (reply %r)", subject, reply[:200])
            self._on_change()
            return
        self.error = None
        if log.isEnabledFor(logging.DEBUG):  # per message: skip building the arguments
            log.debug(
                "pull %s delivered seq=%d pending=%d mode=%s",
                self.consumer,
                delivery.stream_seq,
                delivery.pending,
                self.mode.value,
            )
        self.hint = Hint.BACKLOG if delivery.pending > 0 else Hint.EMPTY
        try:
            self._on_delivery(delivery)
        finally:
            self._on_change()

    def _on_status(self, subject: str, headers: dict[str, str]) -> None:
        if subject != self._current:
            return  # a request we already gave up on
        self.last_activity = time.monotonic()
        status = headers.get("Status", "")
        log.debug("pull %s status %s on %s", self.consumer, status, subject)
        if status == "100":
            return  # idle heartbeat
        if status in ("404", "408"):
            self.hint = Hint.EMPTY
            self.error = None
        else:
            description = next((v for k, v in headers.items() if str(k).endswith("Description")), "")
            self.error = f"{status} {description.strip()}".strip()
            self.hint = Hint.UNKNOWN
            log.warning("pull from %s/%s: %s", self.stream, self.consumer, self.error)
        self._end()
        self._on_change()

    def _end(self) -> None:
        self.mode = Mode.IDLE
        self.remaining = 0
        self._current = ""
