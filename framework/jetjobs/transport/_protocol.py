"""The per-message hot path of the nats-py client, made cheaper with nats-py's rules.

* Header blocks: nats-py builds one with five ``bytearray.extend`` calls and a
  regular-expression match per header, and parses one by checking each
  character of each name in Python. ``HeaderCodec`` and ``parse_header_lines``
  do the same work with a few C-level string operations (2-3x cheaper).
* Header blocks that cannot be read (``NATS\\r\\n\\r\\n`` makes nats-py raise
  IndexError) are handed on as ``UnreadableHeaders`` instead of being dropped:
  a pull delivery must always reach its puller, or the puller would wait for it
  forever, and the worker settles it (dead letter) like any other poison message.
* Publishes bigger than the server's ``max_payload`` (headers included) fail
  here with ``MaxPayloadError``: sent, the server would answer ``-ERR`` and
  nats-py would close the connection for good.
* Trusted publishes (``DirectSubscriptions.publish``): acks and status writes
  go to subjects the server sent or jetjobs built from checked job ids, so
  nats-py's regular-expression check of the subject and reply (three per job)
  is skipped; its other checks stay.
* Direct subscriptions: nats-py hands each message of a callback subscription
  to a per-subscription task through a queue, as a ``Msg`` object. The
  subscriptions that see one message per job (pull deliveries, publish
  acknowledgements) are instead handled inline by the read loop, which saves a
  queue hop and a task switch per message. Their handlers must not wait for
  another message (that would wait on the loop that delivers it).

Installed on every connection jetjobs opens (``install``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import (
    BadHeaderError,
    BadSubjectError,
    ConnectionClosedError,
    ConnectionDrainingError,
    MaxPayloadError,
)

log = logging.getLogger("jetjobs.transport")

# subject, reply, data, headers (with ``Status``/``Description`` for status messages, as nats-py gives them)
DirectHandler = Callable[[str, str, bytes, dict[str, str] | None], Awaitable[None]]
# subject, payload, reply: a publish without headers to a subject known to be valid
TrustedPublish = Callable[[str, bytes, str], Awaitable[None]]

# nats-py's rules: a name is one RFC 7230 token; a value is trimmed and CR/LF become spaces.
_HEADER_KEY_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
_CHECKED_NAMES_MAX = 4096
_HEADER_LINE = b"NATS/1.0"
_PLAIN_HEADER_LINE = b"NATS/1.0\r\n"
_SHOWN_BYTES = 120


class UnreadableHeaders(dict[str, str]):
    """Given to a handler instead of headers when a header block cannot be parsed: empty, with the reason."""

    __slots__ = ("raw", "reason")

    def __init__(self, raw: bytes, reason: str) -> None:
        super().__init__()
        self.raw = bytes(raw)
        self.reason = reason

    def describe(self) -> str:
        """One line: why, and the first bytes of the block (escaped)."""
        shown = repr(self.raw[:_SHOWN_BYTES])
        more = f" (+{len(self.raw) - _SHOWN_BYTES} bytes)" if len(self.raw) > _SHOWN_BYTES else ""
        return f"unreadable header block ({self.reason}): {shown}{more}"


class HeaderCodec:
    """Encodes header blocks, remembering the names already checked (jobs reuse a handful).

    Each checked name maps to its plain ``str`` spelling: nats-py passes some names as
    members of its ``Header`` enum (``str`` subclasses that compare equal to the name but
    format as ``Header.EXPECTED_LAST_SUBJECT_SEQUENCE``). Writing the member itself would
    send a header the server does not know, and a KV ``create``/``update`` would lose its
    condition.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def encode(self, headers: Mapping[str, str]) -> bytes:
        """``{"A": "1"}`` -> ``b"NATS/1.0\\r\\nA: 1\\r\\n\\r\\n"``; BadHeaderError for a name that is not a token."""
        parts = ["NATS/1.0\r\n"]
        names = self._names
        for key, value in headers.items():
            name = names.get(key)
            if name is None:
                name = self._check(key)
                if not name:
                    continue  # nats-py skips empty names
            value = value.strip()
            if "\r" in value or "\n" in value:
                value = value.translate(_VALUE_NEWLINES)
            parts.append(f"{name}: {value}\r\n")
        parts.append("\r\n")
        return "".join(parts).encode()

    def _check(self, name: str) -> str:
        stripped = str.strip(name)  # a plain str, also for a str subclass (an enum member)
        if not stripped:
            return ""
        if not _HEADER_KEY_RE.fullmatch(stripped):
            raise BadHeaderError(stripped)
        if stripped == name and len(self._names) < _CHECKED_NAMES_MAX:
            self._names[name] = stripped
        return stripped


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """``Name: value`` lines -> dict, skipping names that are not one ASCII token (as nats-py does)."""
    out: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        tokens = name.split()
        if len(tokens) != 1 or not name.isascii():
            continue
        out[tokens[0].decode()] = value.strip().decode("utf-8", "replace")
    return out


class DirectSubscriptions:
    """Subscriptions whose messages go from the parser straight to a handler."""

    def __init__(self, nc: Client, publish: TrustedPublish | None = None) -> None:
        self._nc = nc
        self.publish: TrustedPublish = publish or _checked_publish(nc)
        self._handlers: dict[int, DirectHandler] = {}
        self._process_msg = nc._process_msg

    async def subscribe(self, subject: str, handler: DirectHandler) -> Subscription:
        """Subscribe like ``nc.subscribe`` (resubscribed after a reconnect, ``unsubscribe()`` works)."""
        sub = await self._nc.subscribe(subject, cb=_unused)
        self._handlers[sub._id] = handler
        return sub

    async def process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        """nats-py's ``_process_msg`` (``headers`` is None for a message without any)."""
        handler = self._handlers.get(sid)
        if handler is None or sid not in self._nc._subs:
            self._handlers.pop(sid, None)
            await self._process_msg(sid, subject, reply, data, headers)
            return
        stats = self._nc.stats
        stats["in_msgs"] += 1
        stats["in_bytes"] += len(data)
        if not headers:
            parsed = None
        elif headers.startswith(_PLAIN_HEADER_LINE):  # no inline status: what nats-py parses, without its coroutine
            parsed = parse_header_lines(headers[len(_PLAIN_HEADER_LINE) :]) or None
        else:
            parsed = await self._read_headers(headers)
        try:
            await handler(subject.decode(errors="replace"), reply.decode(errors="replace"), data, parsed)
        except Exception:  # an error must not reach the parser: it would drop the connection
            log.exception("handling a message on %s failed", subject.decode(errors="replace"))

    async def _read_headers(self, raw: bytes) -> dict[str, str] | None:
        """Parsed headers, or ``UnreadableHeaders``: never raises, whatever the bytes."""
        if not raw.startswith(_HEADER_LINE):
            return UnreadableHeaders(raw, "it does not start with NATS/1.0")
        try:
            return await self._nc._process_headers(raw)
        except Exception as exc:  # nats-py indexes and decodes without checks (IndexError, UnicodeDecodeError)
            return UnreadableHeaders(raw, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def _checked_publish(nc: Client) -> TrustedPublish:
    async def publish(subject: str, payload: bytes, reply: str = "") -> None:
        await nc.publish(subject, payload, reply)

    return publish


async def _unused(msg: Msg) -> None:  # pragma: no cover - direct subscriptions never queue
    log.warning("unexpected queued message on %s", msg.subject)


def install(nc: Client) -> DirectSubscriptions:
    """Use the faster codec and direct subscriptions on ``nc`` (same protocol bytes, same errors)."""
    codec = HeaderCodec()

    async def send_publish(
        subject: str, reply: str, payload: bytes, payload_size: int, headers: dict[str, Any] | None
    ) -> None:
        if not subject:
            raise BadSubjectError
        if headers is None:
            cmd = f"PUB {subject} {reply} {payload_size}\r\n".encode()
        else:
            block = codec.encode(headers)
            size = len(block)
            if size + payload_size > nc.max_payload:
                raise MaxPayloadError(f"{size} bytes of headers and {payload_size} of body exceed {nc.max_payload}")
            cmd = f"HPUB {subject} {reply} {size} {size + payload_size}\r\n".encode() + block
        nc.stats["out_msgs"] += 1
        nc.stats["out_bytes"] += payload_size
        await nc._send_command(cmd + payload + b"\r\n")
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()

    async def publish_trusted(subject: str, payload: bytes, reply: str = "") -> None:
        """``nc.publish`` for subjects jetjobs built or the server sent (ack subjects, KV keys of
        checked ids, our inboxes): the same checks, except re-validating those subjects."""
        if nc.is_closed:
            raise ConnectionClosedError
        if nc.is_draining_pubs:
            raise ConnectionDrainingError
        if not nc.is_connected:
            await nc.publish(subject, payload, reply)  # its checks of the reconnect buffer apply
            return
        size = len(payload)
        if size > nc.max_payload:
            raise MaxPayloadError(f"{size} bytes exceed the server's max_payload of {nc.max_payload}")
        await send_publish(subject, reply, payload, size, None)

    direct = DirectSubscriptions(nc, publish_trusted)
    nc._send_publish = send_publish  # type: ignore[method-assign]
    nc._parse_header_lines = parse_header_lines  # type: ignore[method-assign]
    nc._process_msg = direct.process_msg  # type: ignore[method-assign]
    return direct
