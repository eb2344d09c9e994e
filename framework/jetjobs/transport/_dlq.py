"""The dead-letter stream, and reading or removing messages stuck in a queue stream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import nats.errors
import nats.js.errors

from ..errors import JetjobsError
from ._connection import Connection

_SERVER_HEADERS = (
    "Nats-Subject",
    "Nats-Sequence",
    "Nats-Time-Stamp",
    "Nats-Stream",
    "Nats-Num-Pending",
    "Nats-Last-Sequence",
)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message read back from a stream."""

    seq: int
    subject: str
    headers: Mapping[str, str]
    data: bytes
    time: datetime | None
    stream: str = ""


class DeadLetterStore:
    """Publish, list, read and delete dead letters."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.stream = conn.names.dlq_stream

    @property
    def max_payload(self) -> int:
        """The server's limit on one message, headers included."""
        return self._conn.max_payload

    async def publish(self, queue: str, data: bytes, headers: Mapping[str, str], msg_id: str) -> None:
        """Store a dead letter; ``msg_id`` makes a repeated move idempotent."""
        headers = {**headers, "Nats-Msg-Id": msg_id}
        try:
            await self._conn.js.publish(self._conn.names.dlq_subject(queue), data, headers=headers)
        except nats.js.errors.APIError as exc:
            raise JetjobsError(f"cannot store dead letter: {exc.description}") from None

    async def list(self, queue: str | None = None, *, limit: int = 100, after_seq: int = 0) -> list[StoredMessage]:
        subject = self._conn.names.dlq_subject(queue) if queue else self._conn.names.dlq_subjects
        found: list[StoredMessage] = []
        seq = max(after_seq, 0) + 1
        while len(found) < limit:
            message = await self._next(subject, seq)
            if message is None:
                break
            found.append(message)
            seq = message.seq + 1
        return found

    async def get(self, seq: int) -> StoredMessage | None:
        return await read_message(self._conn, self.stream, seq)

    async def delete(self, seq: int) -> bool:
        return await delete_message(self._conn, self.stream, seq)

    async def count(self, queue: str) -> int:
        subject = self._conn.names.dlq_subject(queue)
        try:
            info = await self._conn.js.stream_info(self.stream, subjects_filter=subject)
        except nats.js.errors.NotFoundError:
            return 0
        return int((info.state.subjects or {}).get(subject, 0))

    async def _next(self, subject: str, seq: int) -> StoredMessage | None:
        try:
            raw = await self._conn.js.get_msg(self.stream, seq=seq, subject=subject, direct=True, next=True)
        except (nats.js.errors.NotFoundError, nats.errors.NoRespondersError):
            return None  # no such message, or no DLQ stream yet
        return _stored(raw, self.stream)


_MAX_SEQ = 2**63 - 1


async def read_message(conn: Connection, stream: str, seq: int) -> StoredMessage | None:
    """Read one message by sequence; None when it is gone (or the sequence cannot exist: < 1)."""
    if not 1 <= seq <= _MAX_SEQ:
        return None  # the server would answer with an API error, not "not found"
    try:
        raw = await conn.js.get_msg(stream, seq=seq, direct=True)
    except (nats.js.errors.NotFoundError, nats.errors.NoRespondersError):
        return None  # no such message, or no such stream
    return _stored(raw, stream)


async def delete_message(conn: Connection, stream: str, seq: int) -> bool:
    if not 1 <= seq <= _MAX_SEQ:
        return False
    try:
        return bool(await conn.js.delete_msg(stream, seq))
    except nats.js.errors.NotFoundError:
        return False
    except nats.js.errors.APIError as exc:
        # 10037: no message found; 10057: sequence past the end of the stream
        if exc.err_code in (10037, 10057) or "no message found" in (exc.description or "").lower():
            return False
        raise


def _stored(raw: nats.js.api.RawStreamMsg, stream: str) -> StoredMessage:
    headers = {k: v for k, v in (raw.headers or {}).items() if isinstance(k, str) and k not in _SERVER_HEADERS}
    return StoredMessage(
        seq=int(raw.seq or 0),
        subject=raw.subject or "",
        headers=headers,
        data=raw.data or b"",
        time=raw.time,
        stream=stream,
    )
