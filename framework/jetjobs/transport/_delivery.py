"""One delivered JetStream message and the four ways to settle it."""

from __future__ import annotations

import json
from collections.abc import Mapping

from nats.aio.client import Client

from ._protocol import TrustedPublish, UnreadableHeaders

_ACK = b"+ACK"
_NAK = b"-NAK"
_WPI = b"+WPI"
_TERM = b"+TERM"


class Delivery:
    """A job message as delivered by a pull consumer.

    The metadata comes from the ack subject
    ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``
    (with ``<domain>.<account>`` after ``ACK`` in the v2 form).
    ``header_error`` says why the header block could not be read (then
    ``headers`` is empty): the message still has to be settled.
    """

    __slots__ = (
        "_nc",
        "_publish",
        "consumer",
        "data",
        "header_error",
        "headers",
        "num_delivered",
        "pending",
        "reply",
        "settled",
        "stream",
        "stream_seq",
        "subject",
        "timestamp_ns",
    )

    def __init__(
        self,
        nc: Client,
        subject: str,
        reply: str,
        data: bytes,
        headers: Mapping[str, str] | None,
        publish: TrustedPublish | None = None,
    ) -> None:
        self._nc = nc
        # The ack subject comes from the server: ``publish`` may skip checking it again.
        self._publish = publish
        self.subject = subject
        self.reply = reply
        self.data = data
        self.headers: Mapping[str, str] = headers or {}
        self.header_error = headers.describe() if isinstance(headers, UnreadableHeaders) else None
        tokens = reply.split(".")
        off = 2 if len(tokens) == 9 else 4
        self.stream = tokens[off]
        self.consumer = tokens[off + 1]
        self.num_delivered = int(tokens[off + 2])
        self.stream_seq = int(tokens[off + 3])
        self.timestamp_ns = int(tokens[off + 5])
        self.pending = int(tokens[off + 6])
        self.settled = False

    async def ack(self) -> None:
        await self._settle(_ACK)

    async def nak(self, delay_s: float = 0.0) -> None:
        """Ask for redelivery, after ``delay_s`` (consumer backoff does not apply to naks)."""
        if delay_s > 0:
            await self._settle(_NAK + b" " + json.dumps({"delay": int(delay_s * 1e9)}).encode())
        else:
            await self._settle(_NAK)

    async def term(self, reason: str = "") -> None:
        """Stop redelivery for good; the reason shows in the MSG_TERMINATED advisory."""
        payload = _TERM + b" " + reason.encode()[:200] if reason else _TERM
        await self._settle(payload)

    async def in_progress(self) -> None:
        """Reset the ack timer: the job is still being worked on."""
        if not self.settled:
            await self._send(_WPI)

    async def _settle(self, payload: bytes) -> None:
        if self.settled:
            return
        self.settled = True
        await self._send(payload)

    async def _send(self, payload: bytes) -> None:
        if self._publish is not None:
            await self._publish(self.reply, payload, "")
        else:
            await self._nc.publish(self.reply, payload)
