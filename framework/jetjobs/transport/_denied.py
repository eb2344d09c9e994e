"""Permissions violations: what the server refused, told as a PermissionDenied naming the subject.

A publish the user may not make is dropped by the server, which sends
``-ERR 'Permissions Violation for Publish to "<subject>"'`` instead; nats-py
hands that to the error callback and the request behind it simply times out.
Denied subscriptions are told the same way (``... for Subscription to ...``).
``Violations`` keeps them so a waiting call can fail at once with the real
reason instead of "timed out" (and a pull the worker may not make is an error
at start-up, not a silent idle worker).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from nats.aio.client import Client

from ..errors import PermissionDenied

T = TypeVar("T")

_VIOLATION_RE = re.compile(r"permissions violation for (publish|subscription) to \"?([^\"\s']+)", re.IGNORECASE)
_KEEP = 256


def parse_violation(text: str) -> PermissionDenied | None:
    """``nats: 'Permissions Violation for Publish to "a.b"'`` -> PermissionDenied("publish", "a.b").

    >>> parse_violation('nats: Permissions Violation for Subscription to "_INBOX.x.*"').subject
    '_INBOX.x.*'
    """
    match = _VIOLATION_RE.search(text)
    if match is None:
        return None
    operation = "publish" if match[1].lower() == "publish" else "subscribe"
    return PermissionDenied(operation, match[2], _hint(operation, match[2]))


def install(nc: Client, on_denied: Callable[[PermissionDenied], None]) -> None:
    """Hand each permissions violation of ``nc`` to ``on_denied``, with the subject as sent.

    nats-py lower-cases an ``-ERR`` line before its error callback sees it, and
    subjects are case-sensitive: read the line from the parser's buffer instead
    (it is still there while ``_process_err`` runs).
    """
    process_err = nc._process_err

    async def on_err(err_msg: str) -> None:
        buf = nc._ps.buf
        end = buf.find(b"\r\n")
        raw = bytes(buf[:end]).decode(errors="replace") if buf.startswith(b"-ERR") and end > 0 else err_msg
        denied = parse_violation(raw)
        if denied is None:
            await process_err(err_msg)
            return
        on_denied(denied)  # the server keeps the connection open: nothing else to do

    nc._process_err = on_err  # type: ignore[method-assign]


def _hint(operation: str, subject: str) -> str:
    if subject.startswith(("$JS.API.STREAM.CREATE.", "$JS.API.STREAM.UPDATE.", "$JS.API.CONSUMER.CREATE.")):
        return (
            "run 'jetjobs provision' with provisioner rights and give workers provision_on_start=false, "
            "or grant it (jetjobs permissions --role ...)"
        )
    return "grant it to this user (see 'jetjobs permissions --role ...')"


class Violations:
    """The last permissions violations of one connection, and calls waiting on them."""

    def __init__(self) -> None:
        self._seen: deque[tuple[float, PermissionDenied]] = deque(maxlen=_KEEP)
        self._waiters: set[asyncio.Future[None]] = set()

    def record(self, error: PermissionDenied) -> None:
        self._seen.append((time.monotonic(), error))
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def since(self, start: float) -> list[PermissionDenied]:
        return [error for at, error in self._seen if at >= start]

    def find(self, subjects: Iterable[str], since: float = 0.0) -> PermissionDenied | None:
        """The latest violation (after ``since``) on one of ``subjects`` (wildcards allowed on our side)."""
        patterns = [_pattern(s) for s in subjects]
        for at, error in reversed(self._seen):
            if at >= since and any(p.fullmatch(error.subject) for p in patterns):
                return error
        return None

    def refused_subscription(self, since: float = 0.0) -> PermissionDenied | None:
        """The first refused subscription (after ``since``) still remembered: it never delivers."""
        return next((e for at, e in self._seen if at >= since and e.operation == "subscribe"), None)

    async def call(self, subjects: str | Iterable[str], awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``; raise PermissionDenied as soon as the server refuses one of ``subjects``.

        A refused JetStream API request would otherwise wait for its timeout and say only that.
        """
        wanted = [subjects] if isinstance(subjects, str) else list(subjects)
        start = time.monotonic()
        task = asyncio.ensure_future(awaitable)
        try:
            while not task.done():
                changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.add(changed)
                try:
                    waiting: set[asyncio.Future[object]] = {task, changed}  # type: ignore[arg-type]
                    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    self._waiters.discard(changed)
                # A refused reply subscription means no answer will ever come either.
                denied = self.find(wanted, start) or self.refused_subscription(start)
                if denied is not None:
                    task.cancel()
                    raise denied
        except BaseException:
            task.cancel()
            raise
        try:
            return task.result()
        except Exception:
            denied = self.find(wanted, start) or self.refused_subscription(start)
            if denied is not None:
                raise denied from None
            raise


def _pattern(subject: str) -> re.Pattern[str]:
    """A NATS subject with ``*``/``>`` as a regular expression (``>`` matches one token or more)."""
    parts = []
    for token in subject.split("."):
        if token == "*":
            parts.append(r"[^.]+")
        elif token == ">":
            parts.append(r"[^.]+(\.[^.]+)*")
        else:
            parts.append(re.escape(token))
    return re.compile(r"\.".join(parts))
